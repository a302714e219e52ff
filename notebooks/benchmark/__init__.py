"""The benchmark part: every method under every paper's protocol family. Its grid is the library's
(``mmlib.benchmark``, which ``python -m mmlib benchmark`` runs too), so this folder holds only the notebook."""
