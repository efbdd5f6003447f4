"""Small process helpers shared by the embedded Redis and the demo supervisor."""

from __future__ import annotations

import ctypes
import signal
import socket
import threading
import urllib.request

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGTERM this child when its parent dies, so nothing is orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the parent's own clean-up still applies
        pass


def child_preexec():
    """The preexec_fn to use from this thread: PDEATHSIG fires when the spawning *thread* exits,
    so it is only safe from the main thread."""
    return die_with_parent if threading.current_thread() is threading.main_thread() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False
