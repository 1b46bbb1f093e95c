"""Developer tooling for codeloci that is not part of the installed package.

``devtools.gate``: the retrieval gate's dataset generator, trainer and evaluation;
``devtools.search``: the code-search quality evaluation; ``devtools.symbols``: ``symbol_find``
against Jedi.  Run from ``python-orchestrator/``
(``python -m devtools.gate.train``) or through the ``just`` recipes.  devtools may import
``codeloci``; ``codeloci`` never imports devtools (``lint-imports`` checks it).
"""
