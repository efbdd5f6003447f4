"""A small process supervisor for `make demo`: start services, prefix their output, stop them all.

Each child runs in its own session (process group), so stopping one stops everything it forked
(gunicorn's workers, RQ's scheduler), and each child is also told by Linux to die if the
supervisor itself is killed, so Ctrl-C or a crash leaves no orphans.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.procutil import die_with_parent


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    process: subprocess.Popen | None = None


class ServiceFailed(RuntimeError):
    pass


class Supervisor:
    def __init__(self, out=None, stop_timeout: float = 10.0):
        self.services: list[Service] = []
        self.out = out or sys.stdout
        self.stop_timeout = stop_timeout
        self._stopping = threading.Event()
        self._print_lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self._print_lock:
            self.out.write(f"{name:>9} | {line.rstrip()}\n")
            self.out.flush()

    def start(self, service: Service, timeout: float = 30.0) -> None:
        """Start `service` and wait until it is ready (or has died)."""
        service.process = subprocess.Popen(
            service.argv,
            env={**os.environ, **service.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.services.append(service)
        threading.Thread(target=self._pump, args=(service,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while service.ready and not service.ready():
            if service.process.poll() is not None:
                raise ServiceFailed(f"{service.name} exited with {service.process.returncode}")
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{service.name} was not ready within {timeout:.0f}s")
            if self._stopping.wait(0.1):
                raise KeyboardInterrupt

    def _pump(self, service: Service) -> None:
        for raw in service.process.stdout:
            self.say(service.name, raw.decode("utf-8", "replace"))

    def watch(self) -> int:
        """Block until a signal asks us to stop (0) or a service dies on its own (1)."""
        while not self._stopping.wait(0.5):
            for s in self.services:
                if s.process.poll() is not None:
                    self.say("demo", f"{s.name} exited with {s.process.returncode}; stopping")
                    return 1
        return 0

    def request_stop(self, *_args) -> None:
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.request_stop)

    def stop_all(self) -> None:
        """SIGTERM every process group, newest first; SIGKILL what is left after the timeout."""
        for s in reversed(self.services):
            self._signal_group(s, signal.SIGTERM)
            try:
                s.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.say("demo", f"{s.name} did not stop in {self.stop_timeout:.0f}s; killing")
            # Whatever the leader left behind in its group goes too.
            self._signal_group(s, signal.SIGKILL)
            s.process.wait()
        self.services.clear()

    @staticmethod
    def _signal_group(s: Service, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(s.process.pid, sig)
