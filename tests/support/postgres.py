"""A throwaway PostgreSQL server for the test run: initdb into a temp folder, start, stop."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from infra.procutil import free_port
from services.hot_reads import APPLICATION_NAME


class PostgresNotFound(RuntimeError):
    pass


def postgres_bindir() -> Path:
    """Where initdb/pg_ctl live: $FENXIAO_PG_BINDIR, PATH, or Debian's versioned folders."""
    if os.environ.get("FENXIAO_PG_BINDIR"):
        return Path(os.environ["FENXIAO_PG_BINDIR"])
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise PostgresNotFound(
        "no PostgreSQL server binaries; `make test` installs them (bin/setup-system.sh)"
    )


class PostgresServer:
    """PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="fenxiao-pg-"))
        self.datadir = self.root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            self._ensure_system_user()
            self.run_as = ["runuser", "-u", self.user, "--"]

    def _ensure_system_user(self) -> None:
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", self.user], check=True)
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, self.user)

    def _run(self, *argv: str) -> None:
        subprocess.run(
            [*self.run_as, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def start(self) -> PostgresServer:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
            )
        for _ in range(50):
            if not (self.datadir / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def end_hot_read_connections(database_url: str) -> int:
    """End the serving threads' own read connections (services.hot_reads), as a server restart
    or an idle timeout would; returns how many were ended."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APPLICATION_NAME],
        ).fetchone()[0]
