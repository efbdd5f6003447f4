"""Console pages: distributors (being built)."""
