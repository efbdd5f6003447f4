"""Console pages: staff_pages (being built)."""
