"""Code-search quality evaluation: ``python -m devtools.search.evaluate`` (``just eval``)."""
