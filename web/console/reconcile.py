"""Console pages: reconcile (being built)."""
