"""Console pages: material (being built)."""
