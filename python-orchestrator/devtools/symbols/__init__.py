"""Symbol navigation (``symbol_find``) measured against Jedi's static analysis
(``devtools.symbols.evaluate``)."""
