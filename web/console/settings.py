"""Console pages: settings (being built)."""
