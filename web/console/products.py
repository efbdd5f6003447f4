"""Console pages: products (being built)."""
