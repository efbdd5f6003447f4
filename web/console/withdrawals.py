"""Console pages: withdrawals (being built)."""
