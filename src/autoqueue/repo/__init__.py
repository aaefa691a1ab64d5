"""The repository layer: every SQL statement autoqueue runs lives in this package."""
