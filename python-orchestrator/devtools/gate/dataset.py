"""Deterministic generator of the gate dataset (``devtools/gate/gate_dataset.jsonl``).

Run ``python -m devtools.gate.dataset`` to rewrite the file (byte-identical on every run).
See ``README.md`` here for the description.  In short:

* ``label="retrieve"``: questions and tasks about *this* repository — code location
  ("where is X handled"), how our code works, fixes/changes to our code, conventions, past
  decisions, the user's stored preferences, deictic questions about the open file, and
  general-looking questions that name a project identifier.
* ``label="skip"``: general programming knowledge, how-to questions about languages and
  public libraries, self-contained tasks with the code in the prompt, and conversational turns.

Every example comes from a *template* with slots or from a hand-written list.  Splits are
*grouped*: each template (and each hand-written line) belongs to exactly one split, and every
slot pool (topics, symbol names, paths, code snippets, ...) is partitioned too, so the test
split contains phrasings **and** fillers never seen in training.  Assignment is by a SHA-256
hash of each item (about 60% train / 20% dev / 20% test), so it is deterministic, independent
of the order in which things are listed here, and stable when items are added.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = [
    "DATASET_PATH",
    "FIXTURE_PATHS",
    "FIXTURE_SYMBOLS",
    "Example",
    "build_examples",
    "load_dataset",
    "main",
    "write_dataset",
]

DATASET_PATH: Final = Path(__file__).resolve().parent / "gate_dataset.jsonl"

SPLITS: Final = ("train", "dev", "test")
RETRIEVE: Final = "retrieve"
SKIP: Final = "skip"


@dataclass(frozen=True)
class Example:
    """One labelled query."""

    text: str
    label: str
    category: str
    split: str
    source: str
    current_file: str | None = None
    recent_tools: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        doc: dict[str, object] = {
            "text": self.text,
            "label": self.label,
            "category": self.category,
            "split": self.split,
            "source": self.source,
        }
        if self.current_file is not None:
            doc["current_file"] = self.current_file
        if self.recent_tools:
            doc["recent_tools"] = list(self.recent_tools)
        return json.dumps(doc, ensure_ascii=False, sort_keys=True)


def _h(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _assign(items: Sequence[str], salt: str) -> dict[str, str]:
    """Map each item to a split by its own hash (stable when items are added or removed):
    SHA-256 of ``salt + item`` modulo 100: < 60 train, < 80 dev, else test."""
    out: dict[str, str] = {}
    for item in items:
        b = int(_h(salt + "\x00" + item)[:8], 16) % 100
        out[item] = "train" if b < 60 else "dev" if b < 80 else "test"
    return out


# =============================================================================== slot pools
# The fictional project the repository-specific questions are about.  Its symbols and paths are
# also the fixture vocabulary used by the evaluation ("gate with vocabulary" rows).
FUNCS: Final = """parse_file load_config embed_batch flush_queue resolve_root chunk_document
compute_hash retry_request open_store merge_results rank_hits normalize_path build_index
watch_changes apply_migration encode_query score_chunks prune_cache read_manifest emit_progress
validate_schema spawn_worker dedupe_hits write_snapshot fetch_embeddings split_tokens
register_tool handle_request upsert_points delete_stale collect_garbage render_outline
load_plugins parse_args init_logging schedule_reindex diff_trees serialize_chunk
restore_session checkpoint_state gather_stats compact_segments""".split()

CLASSES: Final = """ChunkStore IndexWriter QueryPlanner MemoryRecord RetryPolicy SessionManager
FileWatcher EmbeddingCache VectorClient ToolRouter ConfigLoader SnapshotReader OutlineBuilder
HitRanker SegmentCompactor PluginRegistry JobScheduler TokenBudget MigrationRunner
ProgressReporter SchemaValidator WorkerPool ManifestIndex DiffEngine""".split()

METHODS: Final = """ChunkStore.upsert IndexWriter.commit QueryPlanner.plan SessionManager.close
FileWatcher.poll EmbeddingCache.get VectorClient.search ToolRouter.dispatch
ConfigLoader.from_env HitRanker.rerank WorkerPool.submit MigrationRunner.run
store.qdrant_store.open_store indexer.walker.walk_tree server.tools.handle_request
crate::chunk::split_file crate::outline::build_outline""".split()

PATHS: Final = """src/indexer/walker.py src/store/qdrant_store.py rust-server/src/chunk.rs
rust-server/src/outline.rs src/server/tools.py src/cli/main.py lib/cache.ts src/api/routes.ts
cmd/worker/main.go internal/queue/queue.go src/embed/onnx_backend.py config/settings.toml
scripts/release.sh src/memory/records.py tests/test_chunker.py src/plugins/loader.py
src/ranking/hybrid.py docs/ARCHITECTURE.md src/migrations/0003_add_index.sql
src/auth/middleware.py web/components/SearchBox.tsx src/watch/debounce.rs""".split()

COMPONENTS: Final = [
    "parser",
    "indexer",
    "chunker",
    "file watcher",
    "cache layer",
    "retry logic",
    "config loader",
    "CLI",
    "auth middleware",
    "migration scripts",
    "embedding pipeline",
    "search endpoint",
    "test fixtures",
    "logging setup",
    "error handling",
    "job queue",
    "rate limiter",
    "schema validation",
    "CI pipeline",
    "release script",
    "plugin system",
    "session handling",
    "ranking code",
    "database layer",
    "API client",
    "background worker",
    "payment module",
    "onboarding flow",
    "feature flags",
    "build script",
    "docker setup",
    "outline builder",
    "snapshot writer",
    "reindex scheduler",
    "websocket handler",
    "permission checks",
    "billing webhook",
    "import pipeline",
    "telemetry",
    "settings page",
    "upload handler",
    "notification service",
    "dedup step",
    "tokenizer wrapper",
    "storage backend",
    "progress reporting",
    "shutdown sequence",
    "health check",
]

ACTIONS: Final = [
    "validate user input",
    "retry failed uploads",
    "handle SIGTERM",
    "load the config",
    "compute file hashes",
    "skip binary files",
    "refresh auth tokens",
    "batch the embeddings",
    "rank search results",
    "dedupe chunks",
    "write the snapshot",
    "parse command line flags",
    "log request ids",
    "handle timeouts from the vector store",
    "clean up temp files",
    "debounce file events",
    "convert paths to posix form",
    "report progress to the client",
    "enforce the rate limit",
    "serialize chunks to JSON",
    "pick the embedding model",
    "send the welcome email",
    "map errors to exit codes",
    "resolve the project root",
    "apply database migrations",
    "trim oversized files",
    "detect the language of a file",
    "open the qdrant collection",
    "handle partial writes",
    "throttle reindexing",
]

DECISIONS: Final = [
    "cache eviction",
    "using qdrant instead of faiss",
    "the max chunk size",
    "sync vs async IO in the server",
    "the logging format",
    "the monorepo layout",
    "error codes for tool failures",
    "pinning dependencies",
    "the default port",
    "retry backoff",
    "how we version the API",
    "the license",
    "tabs vs spaces",
    "snake_case for JSON fields",
    "dropping Python 3.10",
    "storing embeddings as int8",
    "the branch naming scheme",
    "squash merging",
    "the timeout for tool calls",
    "where secrets are loaded from",
    "running tests in CI on macOS",
    "the changelog format",
    "splitting the server into two processes",
    "the embedding model",
    "telemetry opt-in",
    "vendoring tree-sitter grammars",
    "the release cadence",
    "the directory for fixtures",
]

CONVENTION_TOPICS: Final = [
    "test names",
    "commit messages",
    "error messages",
    "logging",
    "docstrings",
    "module layout",
    "imports",
    "type hints",
    "branch names",
    "config keys",
    "fixtures",
    "public API naming",
    "feature flags",
    "async functions",
    "exceptions",
    "CLI flags",
    "environment variables",
    "SQL migrations",
    "file headers",
    "TODO comments",
    "Rust error types",
    "JSON field names",
    "metrics names",
    "PR descriptions",
]

PREFERENCE_TOPICS: Final = [
    "code review comments",
    "commit granularity",
    "test style",
    "how verbose logs are",
    "naming things",
    "error handling",
    "comments in code",
    "the diff format you show me",
    "how you explain changes",
    "dependency upgrades",
    "formatting",
    "type annotations",
    "long functions",
    "early returns",
    "mocking in tests",
    "using dataclasses",
]

CHANGES: Final = [
    "use pathlib",
    "log at debug level",
    "return a Result instead of panicking",
    "accept a timeout argument",
    "stream results",
    "use the shared retry helper",
    "read the new config key",
    "drop the deprecated flag",
    "be async",
    "raise a typed error",
    "skip hidden directories",
    "respect .gitignore",
]

ERRORS: Final = [
    "KeyError: 'path'",
    "a TypeError",
    "an IndexError",
    "a timeout",
    "a panic",
    "ConnectionRefusedError",
    "a segfault",
    "UnicodeDecodeError",
    "an off-by-one error",
    "a deadlock",
    "a 500",
    "RecursionError",
    "a race condition",
    "stale results",
]

OPTIONS: Final = [
    "--verbose",
    "--dry-run",
    "--json",
    "--max-files",
    "--exclude",
    "--watch",
    "--profile",
    "--no-cache",
    "--root",
    "--threads",
]

PATTERNS: Final = [
    "dependency injection",
    "a builder",
    "async/await",
    "a context manager",
    "the strategy pattern",
    "dataclasses",
    "an enum",
    "a trait object",
    "composition instead of inheritance",
    "a generator",
]

# ---- general knowledge
CONCEPTS: Final = [
    "a python decorator",
    "a generator",
    "a closure",
    "a metaclass",
    "the GIL",
    "a list comprehension",
    "async/await",
    "binary search",
    "a hash table",
    "a B-tree",
    "a mutex",
    "a semaphore",
    "dependency injection",
    "a monad",
    "the CAP theorem",
    "garbage collection",
    "virtual memory",
    "memoization",
    "dynamic programming",
    "the borrow checker",
    "lifetimes in Rust",
    "a trait object",
    "a goroutine",
    "a JavaScript promise",
    "the event loop",
    "CSS flexbox",
    "a SQL join",
    "a database index",
    "ACID",
    "a docker container",
    "a kubernetes pod",
    "git rebase",
    "a regex lookahead",
    "unicode normalization",
    "floating point rounding",
    "two's complement",
    "a bloom filter",
    "consistent hashing",
    "an LRU cache",
    "Dijkstra's algorithm",
    "topological sort",
    "a red-black tree",
    "a heap",
    "a trie",
    "a python dataclass",
    "a context manager",
    "__slots__",
    "numpy broadcasting",
    "gradient descent",
    "overfitting",
    "attention in transformers",
    "cosine similarity",
    "TF-IDF",
    "BM25",
    "HNSW",
    "a JWT",
    "OAuth",
    "CORS",
    "HTTP/2",
    "a websocket",
    "the TLS handshake",
    "UTF-8",
    "endianness",
    "semantic versioning",
    "a cron expression",
    "a unix pipe",
    "a makefile",
    "tail call optimization",
    "a race condition",
    "a deadlock",
    "a spinlock",
    "copy on write",
    "a vtable",
    "RAII",
    "move semantics",
    "a smart pointer",
    "currying",
    "a higher-order function",
    "immutability",
    "the actor model",
    "CQRS",
    "event sourcing",
    "a message queue",
    "idempotency",
    "a REST API",
    "GraphQL",
    "gRPC",
    "protobuf",
    "a microservice",
    "a monorepo",
    "continuous integration",
    "a feature flag",
    "blue-green deployment",
    "a CDN",
    "DNS",
    "a reverse proxy",
    "load balancing",
    "sharding",
    "database replication",
    "eventual consistency",
    "a vector database",
    "an embedding",
    "a tokenizer",
    "byte pair encoding",
    "quantization",
    "a mock object",
    "property-based testing",
    "mutation testing",
    "code coverage",
    "a linter",
    "static typing",
    "duck typing",
    "type erasure",
    "generics",
    "an interface",
    "polymorphism",
    "inheritance",
    "encapsulation",
    "the visitor pattern",
    "the observer pattern",
    "a singleton",
    "a factory method",
    "SOLID principles",
]

CONCEPT_PAIRS: Final = [
    ("TCP", "UDP"),
    ("a process", "a thread"),
    ("a list", "a tuple"),
    ("REST", "GraphQL"),
    ("git merge", "git rebase"),
    ("a mutex", "a semaphore"),
    ("an abstract class", "an interface"),
    ("SQL", "NoSQL"),
    ("a stack", "a queue"),
    ("BFS", "DFS"),
    ("let", "var"),
    ("== and is", "equality"),
    ("Box", "Rc"),
    ("Arc", "Rc"),
    ("threads", "asyncio"),
    ("a docker image", "a container"),
    ("HTTP", "HTTPS"),
    ("PUT", "PATCH"),
    ("unit tests", "integration tests"),
    ("a shallow copy", "a deep copy"),
    ("compiled", "interpreted languages"),
    ("static", "dynamic linking"),
    ("optimistic", "pessimistic locking"),
    ("a hash map", "a tree map"),
    ("Python 2", "Python 3"),
    ("npm", "yarn"),
    ("pip", "conda"),
    ("cookies", "local storage"),
    ("authentication", "authorization"),
    ("concurrency", "parallelism"),
    ("a library", "a framework"),
    ("stdout", "stderr"),
    ("a fork", "a clone"),
    ("map", "flatMap"),
    ("String", "&str"),
    ("an array", "a linked list"),
]

ALGOS: Final = [
    "quicksort",
    "merge sort",
    "heapsort",
    "binary search",
    "insertion into a hash table",
    "BFS on a graph",
    "Dijkstra with a binary heap",
    "building a heap",
    "bubble sort",
    "radix sort",
    "lookup in a balanced BST",
    "union-find with path compression",
    "the KMP string search",
    "matrix multiplication",
    "Floyd-Warshall",
    "a trie lookup",
    "inserting at the head of a linked list",
    "appending to a python list",
    "sorting a python list",
    "x in set",
    "x in list",
    "dict lookup in python",
]

LANGS: Final = [
    "Python",
    "Rust",
    "Go",
    "TypeScript",
    "JavaScript",
    "Java",
    "C++",
    "C#",
    "Ruby",
    "Kotlin",
    "Swift",
    "Bash",
    "SQL",
    "C",
    "PHP",
    "Scala",
]

HOWTO_TASKS: Final = [
    "reverse a list",
    "read a file line by line",
    "parse JSON",
    "sort a dict by value",
    "make an HTTP request",
    "set a timeout on a request",
    "write a unit test",
    "create a virtual environment",
    "format a date",
    "split a string on whitespace",
    "merge two dictionaries",
    "center a div",
    "debounce a function",
    "read environment variables",
    "spawn a subprocess",
    "handle ctrl-c",
    "write to a csv file",
    "generate a uuid",
    "hash a password",
    "measure elapsed time",
    "pretty print JSON",
    "convert a string to an int",
    "check if a file exists",
    "iterate over a directory",
    "remove duplicates from a list",
    "flatten a nested list",
    "deep copy an object",
    "compare two floats safely",
    "retry with exponential backoff",
    "parse command line arguments",
    "read stdin",
    "write a singleton",
    "implement an iterator",
    "define an enum",
    "handle errors",
    "run tasks concurrently",
    "cancel a running task",
    "use a thread pool",
    "connect to postgres",
    "write a regex for emails",
    "base64 encode a string",
    "profile a slow function",
    "set up logging",
    "mock a function in tests",
    "download a file",
    "zip a directory",
    "resize an image",
    "send an email",
    "escape HTML",
    "validate an email address",
    "get the current timestamp",
    "undo the last git commit",
    "squash commits",
    "revert a merge",
    "delete a remote branch",
    "cherry-pick a commit",
    "stash changes",
    "rename a branch",
]

LIB_CALLS: Final = [
    "os.path.join",
    "functools.lru_cache",
    "Array.prototype.map",
    "std::move",
    "Vec::with_capacity",
    "asyncio.gather",
    "itertools.groupby",
    "str.format",
    "Object.freeze",
    "fmt.Println",
    "json.dumps",
    "re.compile",
    "collections.defaultdict",
    "np.where",
    "pd.merge",
    "torch.no_grad",
    "Promise.all",
    "std::mem::swap",
    "Option::unwrap_or",
    "subprocess.run",
    "pathlib.Path.resolve",
    "contextlib.suppress",
    "dataclasses.field",
    "typing.Protocol",
    "Math.floor",
    "JSON.parse",
    "console.time",
    "Iterator::fold",
    "tokio::spawn",
    "serde_json::from_str",
    "sync.WaitGroup",
    "context.WithTimeout",
    "strings.Builder",
    "String.prototype.padStart",
    "heapq.heappush",
    "bisect.insort",
]

PRACTICES: Final = [
    "error handling in Go",
    "writing unit tests",
    "naming variables",
    "REST API design",
    "structuring a Python package",
    "logging in production",
    "code reviews",
    "database migrations",
    "handling secrets",
    "writing commit messages",
    "API versioning",
    "using async in Python",
    "Rust error types",
    "CSS architecture",
    "React state management",
    "docker images",
    "CI pipelines",
    "dependency management",
    "writing docstrings",
]

GENERIC_ERRORS: Final = [
    "TypeError: 'NoneType' object is not subscriptable",
    "IndentationError: unexpected indent",
    "RecursionError: maximum recursion depth exceeded",
    "error[E0382]: borrow of moved value",
    "Segmentation fault (core dumped)",
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff",
    "Cannot read properties of undefined (reading 'map')",
    "ModuleNotFoundError: No module named 'yaml'",
    "fatal: refusing to merge unrelated histories",
    "error: externally-managed-environment",
    "ValueError: too many values to unpack",
    "panic: runtime error: index out of range",
    "java.lang.NullPointerException",
    "CORS policy: No 'Access-Control-Allow-Origin' header",
    "ImportError: attempted relative import with no known parent package",
    "error[E0499]: cannot borrow as mutable more than once at a time",
    "SyntaxError: unexpected EOF while parsing",
    "OSError: [Errno 24] Too many open files",
    "ERROR: permission denied for table users",
    "npm ERR! code ERESOLVE",
]

SPECS: Final = [
    "returns the nth fibonacci number",
    "checks if a string is a palindrome",
    "flattens a nested list",
    "counts word frequencies in a string",
    "merges two sorted arrays",
    "validates an IPv4 address",
    "converts roman numerals to ints",
    "finds the longest common prefix",
    "rotates a matrix 90 degrees",
    "computes the median of a list",
    "removes duplicates while keeping order",
    "parses a query string into a dict",
    "chunks a list into groups of n",
    "checks if two strings are anagrams",
    "implements FizzBuzz",
    "reverses words in a sentence",
    "computes a running average",
    "converts celsius to fahrenheit",
    "finds all primes below n",
    "implements binary search",
    "deep merges two dicts",
    "generates all permutations of a list",
    "implements an LRU cache",
    "transposes a matrix",
    "formats bytes as a human readable size",
    "retries a function with backoff",
]

SNIPPETS: Final = [
    ("python", "def add(a, b):\n    return a - b"),
    ("python", "for i in range(len(xs)):\n    print(xs[i + 1])"),
    ("python", "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)"),
    ("python", "result = []\nfor x in items:\n    if x % 2 == 0:\n        result.append(x * x)"),
    ("python", "with open('data.txt') as f:\n    lines = f.readlines()\ncount = len(lines)"),
    ("python", "def mean(xs):\n    return sum(xs) / len(xs)"),
    ("python", "d = {}\nfor w in words:\n    d[w] += 1"),
    (
        "python",
        "class Stack:\n    def __init__(self):\n        self.items = []\n"
        "    def pop(self):\n        return self.items.pop(0)",
    ),
    ("python", "import requests\nr = requests.get(url)\ndata = r.json()['items']"),
    (
        "python",
        "def is_even(n):\n    if n % 2 == 0:\n        return True\n    else:\n        return False",
    ),
    ("python", "async def main():\n    for u in urls:\n        await fetch(u)"),
    ("python", "x = [1, 2, 3]\ny = x\ny.append(4)\nprint(x)"),
    (
        "javascript",
        "function sum(arr) {\n  let total;\n  arr.forEach(x => total += x);\n  return total;\n}",
    ),
    (
        "javascript",
        "const btn = document.querySelector('#go');\nbtn.addEventListener('click', handle());",
    ),
    ("javascript", "for (var i = 0; i < 3; i++) {\n  setTimeout(() => console.log(i), 10);\n}"),
    ("javascript", "const data = await fetch(url).json();"),
    ("typescript", "function first<T>(xs: T[]): T {\n  return xs[0];\n}"),
    (
        "rust",
        'fn main() {\n    let s = String::from("hi");\n    let t = s;\n    println!("{}", s);\n}',
    ),
    (
        "rust",
        "fn longest(a: &str, b: &str) -> &str {\n    if a.len() > b.len() { a } else { b }\n}",
    ),
    (
        "rust",
        'let v = vec![1, 2, 3];\nfor x in v {\n    println!("{}", x);\n}\nprintln!("{:?}", v);',
    ),
    ("go", "func worker(ch chan int) {\n    for v := range ch {\n        fmt.Println(v)\n    }\n}"),
    ("go", 'm := map[string]int{}\nm["a"]++\nfmt.Println(len(m))'),
    ("sql", "SELECT name, COUNT(*) FROM orders\nGROUP BY customer_id;"),
    ("sql", "SELECT * FROM users u\nJOIN orders o ON u.id = o.user_id\nWHERE o.total > 100;"),
    ("bash", "for f in *.txt; do\n  mv $f ${f%.txt}.md\ndone"),
    (
        "java",
        "public int max(int[] a) {\n    int m = 0;\n"
        "    for (int x : a) if (x > m) m = x;\n    return m;\n}",
    ),
    ("c", 'int main() {\n    char buf[8];\n    strcpy(buf, "hello world");\n    return 0;\n}'),
    (
        "cpp",
        "std::vector<int> v = {3, 1, 2};\nstd::sort(v.begin(), v.end());\n"
        "for (auto x : v) std::cout << x;",
    ),
]

CODE_ASKS: Final = [
    "why does this raise an error?",
    "what's wrong with this code?",
    "find the bug:",
    "can you optimize this?",
    "add type hints to this",
    "explain what this does",
    "rewrite this more idiomatically",
    "what does this print?",
    "convert this to {lang2}",
    "write a docstring for this",
    "write unit tests for this function",
    "is this thread safe?",
    "make this faster",
    "why is this slow?",
    "simplify this",
    "refactor this into smaller functions",
    "review this snippet",
    "what's the time complexity of this?",
    "translate to {lang2} please",
    "add error handling to this",
    "why does this loop never end?",
    "fix the off-by-one here:",
]

ACKS: Final = [
    "thanks",
    "thank you",
    "ok",
    "okay",
    "ok do it",
    "go ahead",
    "yes please",
    "sounds good",
    "perfect",
    "lgtm",
    "ship it",
    "nice",
    "great",
    "cool",
    "yep",
    "nope",
    "no",
    "yes",
    "makes sense",
    "got it",
    "awesome, thanks",
    "that worked",
    "do it",
    "continue",
    "keep going",
    "proceed",
    "try again",
    "never mind",
    "stop",
    "hmm",
    "sure",
    "alright",
    "sounds great, go for it",
    "looks good to me",
    "ty",
    "thx",
    "k",
    "yup",
    "good job",
    "that's it",
    "exactly",
    "right",
    "agreed",
    "fine by me",
    "let's do that",
]

CONVO_EXTRA: Final = [
    "can you make it shorter",
    "explain that again more simply",
    "say that in one sentence",
    "no, the other one",
    "undo that",
    "use the first option",
    "go with option 2",
    "what do you mean?",
    "can you elaborate?",
    "give me a shorter answer",
    "in bullet points please",
    "hi",
    "hello",
    "good morning",
    "hey there",
    "what can you do?",
    "who are you?",
    "are you there?",
    "wait",
    "hold on",
    "one sec",
    "brb",
    "lol",
    "haha nice",
    "wow",
    "can you repeat the last step",
    "summarize what you just said",
    "show me the diff again",
    "do the second one first",
    "let's stop here for today",
    "good night",
    "that's all for now",
]


# ============================================================================== templates
@dataclass(frozen=True)
class Template:
    category: str
    label: str
    text: str
    n: int = 3


def _t(category: str, label: str, n: int, *texts: str) -> list[Template]:
    return [Template(category, label, t, n) for t in texts]


TEMPLATES: Final[list[Template]] = [
    # ---------------------------------------------------------------- retrieve: code location
    *_t(
        "repo_code_location",
        RETRIEVE,
        3,
        "where is the {component} handled?",
        "where do we {action}?",
        "which file defines {Class}?",
        "where's the code that does {action}",
        "find where {func} is called",
        "what calls {func}?",
        "show me {func}",
        "where in the codebase do we {action}?",
        "in which module is {component} implemented",
        "where does {Class} get constructed?",
        "who uses {method}?",
        "where is {func} defined",
        "which part of the repo handles {component}?",
        "find all the places we {action}",
        "what's the entry point for the {component}?",
        "locate the {component} code",
        "is there already a helper to {action} in this repo?",
        "do we have a util for {action}?",
        "where are the tests for {func}?",
        "what depends on {path}?",
        "which tests cover the {component}?",
        "where do we configure the {component}?",
        "grep for usages of {Class}",
        "list the callers of {method}",
        "where does {path} get imported",
    ),
    # ---------------------------------------------------------------- retrieve: how ours works
    *_t(
        "repo_code_understanding",
        RETRIEVE,
        3,
        "how does our {component} work?",
        "how does {Class} work?",
        "how is the {component} implemented in this repo?",
        "walk me through the {component} in this project",
        "what does {func} return?",
        "what does {path} do?",
        "explain {path}",
        "explain how {func} works",
        "what is {Class} for?",
        "what's the difference between {Class} and {Class2}?",
        "why does {func} take a lock?",
        "what happens when {func} fails?",
        "how do {Class} and {Class2} interact?",
        "give me an overview of the {component}",
        "what's the data flow through the {component}?",
        "how do we {action} in this codebase?",
        "how does the app {action}?",
        "what does the {option} flag do in our CLI?",
        "how is {method} supposed to be used?",
        "summarize {path} for me",
        "what are the invariants of {Class}?",
        "is {func} thread-safe?",
        "does {func} handle empty input?",
        "what's {Class}?",
        "what is {func}",
        "how do we currently {action}?",
        "how do I run the {component} locally?",
        "what env vars does the {component} read?",
    ),
    # ---------------------------------------------------------------- retrieve: fix / change
    *_t(
        "repo_task",
        RETRIEVE,
        3,
        "fix the bug in our {component}",
        "{func} is throwing {error}, can you fix it?",
        "refactor {Class} to use {pattern}",
        "add a {option} option to our CLI",
        "write tests for {func}",
        "rename {func} to {func2} everywhere",
        "update {path} to {change}",
        "the {component} is slow, can you speed it up?",
        "make {func} async",
        "change {func} so it {change_verb}",
        "there's {error} in the {component}, investigate",
        "add logging to the {component}",
        "remove the dead code in {path}",
        "the tests for {func} are flaky, fix them",
        "implement the TODO in {path}",
        "hook {Class} into the {component}",
        "port {func} to the new {Class2} API",
        "our CI fails on {path}, please fix",
        "split {path} into smaller modules",
        "add a docstring to {method}",
        "bump the version in our release script",
        "make the {component} respect the config",
        "why is {func} returning None sometimes?",
        "{Class} leaks memory under load, find out why",
        "wire up {func} to the {component}",
        "delete {func} if nothing uses it",
    ),
    # ---------------------------------------------------------------- retrieve: conventions
    *_t(
        "repo_convention",
        RETRIEVE,
        3,
        "what's our convention for {conv}?",
        "how do we usually handle {conv} here?",
        "what style do we use for {conv} in this codebase?",
        "are there project guidelines for {conv}?",
        "how should I name {conv} in this repo?",
        "what's the house style for {conv}?",
        "do we have a lint rule about {conv}?",
        "is there a CONTRIBUTING note on {conv}?",
        "how does this team do {conv}?",
        "follow the repo conventions for {conv} when you write this",
        "what's the agreed format for {conv} in this project",
        "check how other modules in the repo do {conv}",
    ),
    # ---------------------------------------------------------------- retrieve: decisions
    *_t(
        "repo_decision",
        RETRIEVE,
        3,
        "what did we decide about {decision}?",
        "why did we go with {decision}?",
        "did we agree on {decision}?",
        "remind me why we chose {decision}",
        "what was the reasoning behind {decision}?",
        "have we discussed {decision} before?",
        "is there an ADR for {decision}?",
        "what did the team say about {decision}?",
        "last time we talked about {decision}, what was the outcome?",
        "did we ever settle {decision}?",
        "what's the current decision on {decision}?",
        "who decided {decision} and why?",
        "was {decision} a deliberate choice?",
        "what did I say about {decision} last week?",
    ),
    # ---------------------------------------------------------------- retrieve: preferences
    *_t(
        "repo_preference",
        RETRIEVE,
        3,
        "what are my preferences for {pref}?",
        "how do I like {pref} done?",
        "remember what I told you about {pref}? apply that",
        "what did I tell you about {pref}?",
        "use my usual style for {pref}",
        "do you remember my rule on {pref}?",
        "recall my notes on {pref}",
        "what's my stance on {pref}?",
        "apply my {pref} preferences to this change",
        "did I ever mention how I want {pref}?",
    ),
    # ------------------------------------- retrieve: general-looking but names project identifiers
    *_t(
        "repo_symbol_mention",
        RETRIEVE,
        2,
        "what is `{func}`?",
        "explain {Class} to me",
        "how do I use {Class}?",
        "what's the time complexity of {func}?",
        "is {method} idempotent?",
        "best practices for using {Class}",
        "can {func} be called concurrently?",
        "what arguments does {func} take",
        "difference between {func} and {func2}",
        "what does `{Class}` stand for?",
        "give me an example of calling {method}",
        "when should I use {Class2} instead of {Class}?",
    ),
    # ---------------------------------------------------------------- skip: general knowledge
    *_t(
        "general_knowledge",
        SKIP,
        4,
        "what is {concept}?",
        "explain {concept}",
        "can you explain {concept} in simple terms?",
        "how does {concept} work?",
        "what's the difference between {a} and {b}?",
        "when should I use {concept}?",
        "give me an example of {concept} in {lang}",
        "ELI5 {concept}",
        "what are the pros and cons of {concept}?",
        "what's the big O of {algo}?",
        "explain the time complexity of {algo}",
        "{a} vs {b}: which should I pick?",
        "is {concept} worth learning?",
        "why would anyone use {concept}?",
        "what problem does {concept} solve?",
        "history of {concept}?",
        "teach me {concept}",
        "what does {libcall} do?",
        "how does {libcall} work under the hood?",
        "is {libcall} thread-safe?",
        "what are common mistakes with {concept}?",
        "define {concept}",
        "compare {a} and {b}",
        "worst case complexity of {algo}?",
        "what's a good analogy for {concept}?",
        "what's the point of {concept}?",
        "explain the idea behind {concept}",
        "what is the main use case of {concept}?",
        "how is {concept} used in the industry?",
        "what does this error mean: {generic_error}",
    ),
    # ---------------------------------------------------------------- skip: general how-to
    *_t(
        "general_howto",
        SKIP,
        4,
        "how do I {howto} in {lang}?",
        "how to {howto} in {lang}",
        "what's the idiomatic way to {howto} in {lang}?",
        "best way to {howto}?",
        "{lang}: {howto}",
        "quick way to {howto} in {lang}?",
        "show me how to {howto}",
        "what's the fastest way to {howto} in {lang}",
        "best practices for {practice}",
        "any tips on {practice}?",
        "how would you {howto} in {lang}?",
        "in {lang}, how can I {howto}?",
        "is there a built-in to {howto} in {lang}?",
        "how do you {howto} without a library?",
        "recommend a library to {howto} in {lang}",
        "what's the modern way to {howto} in {lang}",
        "how can I use {libcall}?",
        "I keep getting {generic_error}, what does it mean in general?",
    ),
    # ---------------------------------------------------------------- skip: self-contained
    *_t(
        "self_contained",
        SKIP,
        4,
        "{code_ask}\n```{code_lang}\n{code}\n```",
        "```{code_lang}\n{code}\n```\n{code_ask}",
        "{code_ask}\n\n{code}",
        "here's my function:\n{code}\n{code_ask}",
        "write a {lang} function that {spec}",
        "implement a function that {spec} in {lang}",
        "write a function that {spec}",
        "can you write {lang} code that {spec}?",
        "give me a one-liner that {spec}",
        "write a script that {spec}, in {lang}",
        "I got this error:\n{generic_error}\nfrom this code:\n```{code_lang}\n{code}\n```",
        "code golf: a function that {spec}",
    ),
]

# Hand-written examples (each goes to one split as a whole).
HAND: Final[dict[tuple[str, str], list[str]]] = {
    ("repo_code_location", RETRIEVE): [
        "where's the retry logic for uploads?",
        "which module talks to qdrant?",
        "where do we read the .env file",
        "find the function that builds the outline",
        "where are the MCP tools registered?",
        "what file has the tree-sitter queries",
        "where do we set the default chunk size",
        "who writes to the manifest?",
        "where is the bug report template in this repo",
        "where are our benchmarks?",
        "where do the e2e tests live",
        "what handles the --root flag",
        "where did we put the shared schemas",
        "point me to the code that skips binary files",
        "which function turns chunks into points?",
        "where's the server main loop",
        "find the place where we swallow exceptions",
        "where's the justfile recipe for tests",
        "where's the migration that added the index",
        "which class owns the websocket?",
    ],
    ("repo_code_understanding", RETRIEVE): [
        "how does the gate decide whether to retrieve?",
        "how do we chunk markdown files?",
        "what happens on startup in our server?",
        "why is the reindex so slow in this repo?",
        "how are memories stored here?",
        "what's our embedding dimension?",
        "how do we handle renames in the watcher?",
        "what does the index_status tool return?",
        "how are tool errors reported back to the client in our server?",
        "what's the lifecycle of a session in this app",
        "does our search use hybrid ranking?",
        "how do we dedupe search hits?",
        "explain the architecture of this project",
        "what's in our README about setup?",
        "how is the rust server started by the orchestrator?",
        "what's the max file size we index?",
        "what languages does our parser support?",
        "how many workers does the indexer spawn?",
        "how does the project load its config?",
        "what does our CI run?",
        "how do the python and rust halves talk to each other here?",
        "how do I run this project's tests",
        "what's the default port of our http server?",
        "what version of the schema are we on?",
        "how is auth wired in this service?",
    ],
    ("repo_task", RETRIEVE): [
        "fix the failing test in the chunker",
        "our parser chokes on decorators, fix it",
        "add a gate_stats tool next to index_status",
        "make the watcher ignore node_modules",
        "bump our qdrant client version and fix what breaks",
        "clean up the warnings in our build",
        "add retries to our embedding calls",
        "speed up the indexer on big repos",
        "implement pagination for our search endpoint",
        "wire the new config key into the server",
        "update the docs for the new CLI flags",
        "our release script forgot to tag, fix it",
        "port the chunker tests to pytest",
        "remove the old v1 endpoints from the api",
        "the app crashes on startup after my last change, look into it",
        "make our logs include the request id",
        "write a migration for the new column",
        "add a benchmark for code_search to our bench folder",
        "why does our test suite hang on CI?",
        "reduce memory use of the index writer",
    ],
    ("repo_convention", RETRIEVE): [
        "how do we structure error types in the rust server?",
        "what's the naming scheme for our tools?",
        "how are config defaults documented in this project?",
        "which logger do we use here?",
        "do we squash or merge PRs in this repo?",
        "what's the rule for public API changes here?",
        "how do we name feature branches?",
        "what's our commit message format?",
        "do we use absolute or relative imports here?",
        "should new code here use pydantic or dataclasses?",
        "what line length does this repo use?",
        "do we write tests next to the code or in tests/?",
        "what's our policy on adding dependencies?",
        "how do we log errors in this codebase?",
        "do we prefer Result or panics in the rust part?",
        "where do fixtures go in this repo",
        "is it ok to use print in this project?",
        "how are errors surfaced to users in our cli",
    ],
    ("repo_decision", RETRIEVE): [
        "what did we settle on for the error envelope?",
        "why are we not using async here?",
        "did we already rule out elasticsearch?",
        "what was the conclusion on monorepo vs split repos?",
        "what did we note about the flaky watcher test?",
        "which option did we pick for the cache key?",
        "what did we decide about caching embeddings?",
        "why didn't we use sqlite?",
        "did we decide on int8 or float32 vectors?",
        "what was decided in the last design review?",
        "why is the server split into rust and python?",
        "what did we agree on for the gate threshold?",
        "remind me what we concluded about watch mode",
        "did we drop windows support?",
        "what's the plan we agreed for the v2 migration?",
        "why did we pin mcp to 2.3?",
        "was there a reason we don't index markdown?",
        "what did we choose for the tokenizer and why",
    ],
    ("repo_preference", RETRIEVE): [
        "how verbose do I like the logs?",
        "did I say I prefer pytest fixtures or setup methods?",
        "what indentation do I prefer for yaml?",
        "which of my rules apply to error messages?",
        "remember I hate one-letter variable names? check this against that",
        "what did I ask you to always do before committing?",
        "my usual PR checklist please",
        "what formatting rules did I give you for markdown?",
        "do I prefer early returns or nested ifs?",
        "what's my policy on TODOs?",
        "what's my preferred test framework?",
        "how do I like my commit messages?",
        "remember my preference for small PRs",
        "what did I say about comments last time?",
        "do I want type hints everywhere?",
        "use my preferred error style",
        "what editor settings did I tell you about?",
        "what do I usually want in PR descriptions?",
        "recall what I said about mocking",
        "remind me of my naming preferences",
    ],
    ("repo_deictic", RETRIEVE): [
        "what is this for?",
        "who wrote this and why?",
        "can this be removed?",
        "where is this configured?",
        "add this to the changelog",
        "which tests exercise this?",
        "what does this constant control?",
        "move this into the utils module",
        "is this the same as the helper in the other package?",
        "does this get called on startup?",
        "what does this function do?",
        "why is this test failing?",
        "add error handling here",
        "refactor this file",
        "who calls this?",
        "is this used anywhere else?",
        "can I delete this method?",
        "what breaks if I change this signature?",
        "document this module",
        "is there a test for this?",
        "why was this written this way?",
        "rename this class everywhere",
        "what's the history of this file?",
        "does anything else depend on this?",
        "explain this file",
        "clean up this module",
        "where else do we do the same thing as here?",
        "add a test for the function I'm in",
        "is this duplicated somewhere?",
        "why does this return early?",
        "what's the purpose of this class in the project?",
        "fix the lint errors in this file",
        "make this consistent with the rest of the codebase",
        "is this the right place for this logic?",
    ],
    ("general_knowledge", SKIP): [
        "what's the difference between an iterator and a generator?",
        "what is a lambda?",
        "how do python imports work?",
        "what's a virtual environment?",
        "what is memoization?",
        "what does idempotent mean?",
        "what's the difference between git fetch and git pull?",
        "is rust faster than go?",
        "what is dependency hell?",
        "why are global variables bad?",
        "what is a python decorator",
        "explain big O of quicksort",
        "what's a monad?",
        "how does HTTPS work?",
        "what is the difference between a list and a tuple in python",
        "why is python slow?",
        "what is rust's ownership model?",
        "what does REST stand for",
        "how do hash maps handle collisions?",
        "what's a segfault?",
        "explain recursion like I'm five",
        "what is a closure in javascript?",
        "is java pass by reference?",
        "how does garbage collection work in go?",
        "why is floating point 0.1 + 0.2 not 0.3?",
        "what is tail recursion?",
        "what's the difference between concurrency and parallelism?",
        "how do vector databases work?",
        "what is an embedding model?",
        "what is retrieval augmented generation?",
        "what's the best sorting algorithm?",
        "what does O(n log n) mean?",
        "how do transformers work?",
        "what is the MCP protocol?",
        "what is tree-sitter?",
        "what's a good book on algorithms?",
        "how does git store commits internally?",
        "what's the difference between a compiler and an interpreter?",
        "what is a race condition and how do you avoid one?",
        "what are python type hints for?",
        "how does DNS resolution work",
        "why use kubernetes?",
        "what is WebAssembly?",
        "explain the SOLID principles",
        "what's the point of unit tests?",
    ],
    ("general_howto", SKIP): [
        "how do I write a for loop in bash?",
        "how do I parse dates in javascript?",
        "how do I handle errors in async rust?",
        "how to write a makefile",
        "how to use git bisect",
        "how do I add a column in postgres?",
        "how do I reverse a string in python?",
        "how to exit vim",
        "how do I undo git add?",
        "how do I install numpy?",
        "how to center a div vertically",
        "how do I make a POST request with curl?",
        "how to read a csv with pandas",
        "how do I check my python version?",
        "how do I kill the process on port 8080?",
        "how to write a dockerfile for a python app",
        "how do I set up pre-commit hooks?",
        "how do I profile python code?",
        "how do I convert a list to a set in python?",
        "how do I print to stderr in rust?",
        "how do I make a struct cloneable in rust?",
        "how to create a branch in git",
        "how do I find large files on linux?",
        "how to sort by two keys in python?",
        "how to measure memory usage in python",
        "how do I write a generator in javascript?",
        "how to use async iterators in python",
        "what's the shortcut to comment a line in vscode?",
        "how do I pretty print a dict?",
        "how to get the length of a vector in rust",
        "how to copy files with rsync",
    ],
    ("self_contained", SKIP): [
        "fix this: `for i in range(10) print(i)`",
        "what does `[x*2 for x in range(3)]` evaluate to?",
        "is `a = b = []` a problem in python?",
        "why does `0.1 + 0.2 == 0.3` print False?",
        "what's the output of `print(type(None))`?",
        "regex to match `foo-123` style ids?",
        "convert `map(lambda x: x+1, xs)` to a list comprehension",
        'is this valid json: {"a": 1,}',
        "what's wrong with `if x = 5:`",
        "write a sql query that returns the top 5 customers by revenue",
        "write a bash one-liner to count lines in all .py files",
        "write a python function to check if a number is prime",
        "sort this list for me: [5, 3, 9, 1]",
        "make a regex for US phone numbers",
        "turn this into a dict: a=1, b=2, c=3",
        'format this json: {"a":1,"b":[1,2]}',
        "what does `git reset --hard HEAD~1` do?",
        "translate `x ?? y` from JS to python",
        "explain `fn foo<'a>(x: &'a str) -> &'a str`",
        "write a haiku about code review",
    ],
    ("conversational", SKIP): [
        "yes",
        "that's fine",
        "ok, run it",
        "cool, commit and push",
        "go on",
        "all good",
        "thanks, that's all",
        "good catch",
        "oops",
        "my bad",
        "never mind, it works now",
        "thanks!",
        "ok do it",
        "sounds good, go ahead",
        "perfect, thank you so much",
        "no wait, revert that",
        "great job",
        "can you explain that differently?",
        "ok cool",
        "yes, do both",
        "let's go with your suggestion",
        "hmm, not sure about that",
        "that's not what I meant",
        "try a different approach",
        "ok, next step",
        "alright, commit it",
        "nice, what's next?",
        "I'm back",
        "sorry, typo",
        "you're right",
        "thanks, that fixed it",
        "please continue",
        "keep it short",
        "ok, and then?",
        "do the same for the other one",
        "why?",
        "really?",
        "ok thanks bye",
    ],
}

CONTEXT_TOOLS: Final = [
    "code_search",
    "memory_find",
    "read_file",
    "edit_file",
    "run_tests",
    "bash",
    "grep",
    "retrieve_symbol",
    "index_status",
    "write_file",
    "list_dir",
]


# ============================================================================== generation
def _split_pool(name: str, items: Sequence[str]) -> dict[str, list[str]]:
    assign = _assign(items, "pool:" + name)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for item in items:
        out[assign[item]].append(item)
    for s in SPLITS:  # never leave a split without fillers
        if not out[s]:
            out[s] = list(items)
    return out


def _pools() -> dict[str, dict[str, list[str]]]:
    snippets = [f"{lang}\x00{code}" for lang, code in SNIPPETS]
    pairs = [f"{a}\x00{b}" for a, b in CONCEPT_PAIRS]
    simple: dict[str, Sequence[str]] = {
        "func": FUNCS,
        "Class": CLASSES,
        "method": METHODS,
        "path": PATHS,
        "component": COMPONENTS,
        "action": ACTIONS,
        "decision": DECISIONS,
        "conv": CONVENTION_TOPICS,
        "pref": PREFERENCE_TOPICS,
        "change": CHANGES,
        "error": ERRORS,
        "option": OPTIONS,
        "pattern": PATTERNS,
        "concept": CONCEPTS,
        "pair": pairs,
        "algo": ALGOS,
        "lang": LANGS,
        "howto": HOWTO_TASKS,
        "libcall": LIB_CALLS,
        "practice": PRACTICES,
        "generic_error": GENERIC_ERRORS,
        "spec": SPECS,
        "snippet": snippets,
        "code_ask": CODE_ASKS,
    }
    return {name: _split_pool(name, list(items)) for name, items in simple.items()}


_SLOT_RE: Final = re.compile(r"\{(\w+)\}")


def _fill(
    template: str, pools: dict[str, dict[str, list[str]]], split: str, rng: random.Random
) -> str:
    chosen: dict[str, str] = {}

    def pick(pool: str) -> str:
        return rng.choice(pools[pool][split])

    def value(slot: str) -> str:
        if slot in chosen:
            return chosen[slot]
        if slot in ("func2", "Class2"):
            base = slot[:-1]
            options = [x for x in pools[base][split] if x != value(base)] or pools[base][split]
            v = rng.choice(options)
        elif slot in ("a", "b"):
            a, b = pick("pair").split("\x00")
            chosen["a"], chosen["b"] = a, b
            return chosen[slot]
        elif slot in ("code", "code_lang"):
            lang, code = pick("snippet").split("\x00")
            chosen["code"], chosen["code_lang"] = code, lang
            return chosen[slot]
        elif slot == "lang2":
            v = rng.choice([x for x in pools["lang"][split] if x != chosen.get("lang")])
        elif slot == "change_verb":
            v = pick("change").replace("use ", "uses ", 1).replace("log ", "logs ", 1)
        elif slot == "code_ask":
            v = _SLOT_RE.sub(lambda m: value(m.group(1)), pick("code_ask"))
        else:
            v = pick(slot)
        chosen[slot] = v
        return v

    return _SLOT_RE.sub(lambda m: value(m.group(1)), template)


_PREFIXES: Final = [
    "",
    "",
    "",
    "",
    "hey, ",
    "quick question: ",
    "can you tell me ",
    "pls ",
    "so ",
    "btw ",
    "q: ",
    "help: ",
]


def _augment(text: str, rng: random.Random, *, prefix_ok: bool = True) -> str:
    """Surface variety: casing, trailing punctuation, a chatty prefix (prose-only queries)."""
    if "\n" in text:
        return text
    r = rng.random()
    if r < 0.15:
        text = text.lower()
    elif r < 0.25:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.3 and text.endswith("?"):
        text = text[:-1]
    prefix = rng.choice(_PREFIXES)
    if not prefix_ok:
        prefix = ""
    if (
        prefix
        and not text.lower().startswith(("what", "how", "where", "why"))
        and prefix in ("can you tell me ",)
    ):
        prefix = ""
    return prefix + text


def _context(text: str, category: str, rng: random.Random) -> tuple[str | None, tuple[str, ...]]:
    """Client context: deictic repo questions always come with the open file; every other
    query gets a file / recent tools at random (label-independent, as agents send them)."""
    file_: str | None = None
    tools: tuple[str, ...] = ()
    if category == "repo_deictic" or rng.random() < 0.3:
        file_ = rng.choice(PATHS)
    if rng.random() < 0.3:
        k = rng.randint(1, 3)
        tools = tuple(rng.sample(CONTEXT_TOOLS, k))
    return file_, tools


def build_examples() -> list[Example]:
    """All examples, in a deterministic order."""
    pools = _pools()
    examples: list[Example] = []
    seen: set[str] = set()

    def add(text: str, label: str, category: str, split: str, source: str) -> None:
        key = " ".join(text.lower().split()).rstrip("?!. ")
        if key in seen:
            return
        seen.add(key)
        crng = random.Random(_h("ctx:" + text))
        file_, tools = _context(text, category, crng)
        examples.append(Example(text, label, category, split, source, file_, tools))

    by_cat: dict[str, list[Template]] = {}
    for t in TEMPLATES:
        by_cat.setdefault(t.category, []).append(t)
    for category in sorted(by_cat):
        temps = by_cat[category]
        assign = _assign([t.text for t in temps], "template:" + category)
        for t in temps:
            split = assign[t.text]
            tid = _h(t.text)[:10]
            for i in range(t.n):
                rng = random.Random(_h(f"fill:{t.text}:{i}"))
                text = _augment(_fill(t.text, pools, split, rng), rng)
                add(text, t.label, t.category, split, f"template:{tid}")

    # conversational turns: acks alone and combined with a short follow-up
    convo = [*ACKS, *CONVO_EXTRA]
    combos = [f"{a}, {b}" for a in ACKS[:24] for b in CONVO_EXTRA[:12]]
    combos = sorted(combos, key=lambda x: _h("combo:" + x))[:120]
    convo_assign = _assign([*convo, *combos], "convo")
    for text in [*convo, *combos]:
        rng = random.Random(_h("aug:" + text))
        add(
            _augment(text, rng, prefix_ok=False),
            SKIP,
            "conversational",
            convo_assign[text],
            "convo",
        )

    for (category, label), texts in sorted(HAND.items()):
        assign = _assign(texts, "hand:" + category)
        for text in texts:
            add(text, label, category, assign[text], "hand")
    return examples


def fixture_vocabulary_items() -> tuple[list[str], list[str]]:
    """Symbols and paths of the fictional project the repository questions are about."""
    symbols = sorted({*FUNCS, *CLASSES, *METHODS})
    return symbols, sorted(PATHS)


FIXTURE_SYMBOLS, FIXTURE_PATHS = fixture_vocabulary_items()


def write_dataset(path: Path = DATASET_PATH) -> int:
    """Write the JSONL file; returns the number of examples."""
    examples = build_examples()
    payload = "".join(e.to_json() + "\n" for e in examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload, encoding="utf-8", newline="\n")
    return len(examples)


def load_dataset(path: Path = DATASET_PATH) -> list[Example]:
    """Read the JSONL file."""
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            out.append(
                Example(
                    text=d["text"],
                    label=d["label"],
                    category=d["category"],
                    split=d["split"],
                    source=d.get("source", ""),
                    current_file=d.get("current_file"),
                    recent_tools=tuple(d.get("recent_tools", ())),
                )
            )
    return out


def summarize(examples: Iterable[Example]) -> dict[str, dict[str, int]]:
    """Counts per split x category."""
    out: dict[str, dict[str, int]] = {}
    for e in examples:
        row = out.setdefault(e.split, {})
        row[e.category] = row.get(e.category, 0) + 1
        row["_" + e.label] = row.get("_" + e.label, 0) + 1
        row["_total"] = row.get("_total", 0) + 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DATASET_PATH
    n = write_dataset(path)
    print(f"wrote {n} examples to {path}")
    print(json.dumps(summarize(load_dataset(path)), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
