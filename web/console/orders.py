"""Console pages: orders (being built)."""
