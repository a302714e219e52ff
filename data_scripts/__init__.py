"""Scripts that fetch and verify the book's data (see data_scripts/fetch.py)."""
