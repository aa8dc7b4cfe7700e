"""Documents generated from the code (not shipped in the package)."""
