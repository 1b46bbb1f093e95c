"""The gate's word lists and token shapes, shared by the vocabulary lookup and the features.

What an identifier, a qualified name or a mention is comes from :mod:`codeloci.identifiers`;
this module adds what only the gate needs: file extensions, library prefixes, ubiquitous
identifiers, stop words and the shape of a mention (:func:`shape_of`). Nothing here imports
anything heavier than :mod:`re`; the gate must load in milliseconds.
"""

from __future__ import annotations

import re
from typing import Final

from codeloci.identifiers import is_camel, is_snake, split_qualified

__all__ = [
    "FILE_EXTENSIONS",
    "LIBRARY_PREFIXES",
    "STOPWORDS",
    "UBIQUITOUS_IDENTIFIERS",
    "TokenShape",
    "backticked",
    "shape_of",
]

_BACKTICK_RE: Final = re.compile(r"`([^`\n]{1,200})`")

FILE_EXTENSIONS: Final[frozenset[str]] = frozenset(
    """py pyi rs ts tsx js jsx mjs cjs go java kt kts c h cc cpp cxx hpp hh cs rb php swift scala
    md rst txt toml json jsonl yaml yml ini cfg conf lock sh bash zsh ps1 sql html htm css scss
    vue svelte proto graphql xml csv env dockerfile mk cmake gradle ipynb lua ex exs erl hs ml
    dart r jl zig nim tf hcl""".split()
)

# First components of dotted names that refer to standard / third-party libraries rather than
# to the project: `os.path.join`, `np.array`, `std::mem::swap`, `Array.prototype.map`.
LIBRARY_PREFIXES: Final[frozenset[str]] = frozenset(
    """os sys re io json math time datetime random itertools functools collections asyncio
    typing pathlib subprocess threading multiprocessing logging unittest pytest dataclasses
    abc enum copy pickle shutil tempfile glob csv sqlite3 socket http urllib hashlib base64
    struct contextlib inspect operator string textwrap heapq bisect array queue weakref gc
    argparse decimal fractions statistics uuid zlib gzip zipfile tarfile xml html email
    np numpy pd pandas torch tf sklearn scipy plt matplotlib requests flask django fastapi
    pydantic sqlalchemy boto3 str int list dict set tuple bytes object type self cls
    std core alloc tokio serde anyhow thiserror rayon regex futures vec string option result
    box rc arc hashmap hashset btreemap btreeset iter iterator intoiterator slice cell refcell
    mutex rwlock pathbuf cow fmt mem ptr fs env thread sync process net
    array object math promise console document window json number date reflect proxy map
    react vue angular express lodash axios node process buffer fs path util crypto events
    java javax org com kotlin android system
    strings strconv bufio context errors sort sync http ioutil
    """.split()
)

# Identifiers so common in any code base that matching them says nothing about *this* project.
UBIQUITOUS_IDENTIFIERS: Final[frozenset[str]] = frozenset(
    """init main self cls this new call repr str eq hash len iter next enter exit del get set
    name doc file dict class module slots all version post_init init_subclass getattr setattr
    getitem setitem contains test tests src lib app index mod utils util helpers common core
    setup run start stop foo bar baz qux x y z i j k n a b c""".split()
)

# Plain (non identifier-shaped) words that never count as a symbol mention on their own, even
# if a symbol or path component of the same name exists: common English and the generic
# vocabulary of programming questions.  Backticked words bypass this list.
STOPWORDS: Final[frozenset[str]] = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could did didn do does doesn doing don
    down during each else even ever every few for from further get gets getting give given go
    goes going gone good got had has have having he her here hers him his how however i if in
    into is isn it its itself just keep know last least less let like likely make makes many
    may me might more most much must my myself need needs never new next no nor not now of off
    often ok okay old on once one only or other our ours out over own please put quite rather
    really right same say see seem seems shall she should show since so some something still
    such sure take tell than thank thanks that the their them then there these they thing
    things think this those though through thus to too try two under until up upon us use used
    uses using very want wants was way we well were what when where whether which while who
    whom whose why will with within without would yes yet you your yours yourself
    able across actually add added adding again already always another anything around ask
    back best better big bit both call called calls change changed changes check checked
    come could current currently day different does done easy else end enough example
    explain fast find first fix fixed fixes general help high however idea instead large
    later long look looks low main maybe mean means method methods part possible pretty
    problem problems question quick real reason same second simple small sort start started
    stop support sure three time times true false none null nil undefined today usually vs
    work works working write wrong yeah yep hey hi hello thanks cool great nice awesome
    perfect fine lgtm sounds continue proceed ahead

    api apis algorithm algorithms argument arguments array arrays async await backend binary
    bool boolean branch branches buffer bug bugs build builds byte bytes cache caches case
    cases char chars class classes cli client clients closure closures code codebase column
    columns command commands comment comments commit commits compile compiler complexity
    component components concurrency config configuration const constant constants
    constructor container containers context data database databases debug decorator
    decorators default defaults dependency dependencies deploy design dict dictionary
    dictionaries directory directories docker docs documentation element elements enum
    enums environment error errors event events exception exceptions export expression
    field fields file files filter float folder format frontend function functions
    generator generators generic generics git graph hash hashmap heap import imports index
    indexes input install instance int integer interface interfaces item items iterator
    java javascript json key keys lambda language languages library libraries line lines
    linux list lists log logging logic loop loops map memory merge message messages
    model models module modules name names network node nodes number numbers object objects
    option options order output package packages page parameter parameters parse parser
    parsing path paths pattern patterns performance pointer pointers process program
    programming project python queue queues read record records recursion reference
    regex repo repository request requests response return returns rust script scripts
    search server service services set sets shell sort sorting source sql stack state
    statement static storage stream streams string strings struct structs syntax system
    table tables task tasks template test testing tests thread threads token tokens tool
    tools tree trees tuple tuples type types typescript unit update url user users value
    values variable variables version view web window windows
    """.split()
)


class TokenShape:
    """Shape labels returned by :func:`shape_of` (plain strings, cheap to compare)."""

    PATH: Final = "path"
    FILE: Final = "file"
    LIBCALL: Final = "libcall"
    DOTTED: Final = "dotted"
    SNAKE: Final = "snake"
    CAMEL: Final = "camel"
    WORD: Final = "word"


def backticked(text: str) -> list[str]:
    """Contents of inline `backticked` spans."""
    return _BACKTICK_RE.findall(text)


def shape_of(token: str) -> str:
    """Classify a mention (one of :func:`codeloci.identifiers.name_tokens`) into one of the
    :class:`TokenShape` labels."""
    if "/" in token:
        return TokenShape.PATH
    if "." in token or "::" in token or "#" in token:
        parts = split_qualified(token)
        if len(parts) >= 2 and parts[-1].lower() in FILE_EXTENSIONS and "::" not in token:
            return TokenShape.FILE
        if parts and parts[0].lower() in LIBRARY_PREFIXES:
            return TokenShape.LIBCALL
        if len(parts) >= 2:
            return TokenShape.DOTTED
    if is_snake(token):
        return TokenShape.SNAKE
    if is_camel(token):
        return TokenShape.CAMEL
    return TokenShape.WORD
