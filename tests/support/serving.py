"""Serving a WSGI app over real HTTP inside a test, and waiting for what another process does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server


@contextmanager
def serve(wsgi) -> Iterator[str]:
    """Serve a WSGI app over real HTTP on a free port, threaded; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def wait_until(check, timeout: float = 20.0):
    """`check()`'s first true value within `timeout` seconds; the test fails with the check's
    docstring otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"not within {timeout}s: {check.__doc__}")
