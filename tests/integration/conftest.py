from __future__ import annotations

import pytest


@pytest.fixture
def ctx(app):
    """An app context for service-level tests (one session, closed afterwards)."""
    with app.app_context():
        yield app
