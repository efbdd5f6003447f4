"""Console pages: coupons (being built)."""
