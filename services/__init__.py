"""Use cases. Each public function owns its transaction: it commits once, or rolls back on error
and re-raises. Views, bot handlers and jobs only parse, call one of these, and format."""
