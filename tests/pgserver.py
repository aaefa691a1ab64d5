"""A throwaway PostgreSQL cluster for the test run: initdb + pg_ctl from the machine's PostgreSQL
(Debian's ``postgresql`` package), in a temporary folder, listening on a Unix socket only, with
fsync off. As root, the cluster runs as the unprivileged ``postgres`` user (PostgreSQL refuses
root). Each test gets its own empty database, which ``autoqueue init`` (or the first
connection) fills, as on a user's server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg


def server_bin() -> Path:
    """The folder with initdb and pg_ctl: $PG_BIN, on PATH, or Debian's versioned folder."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if debian:
        return debian[-1].parent
    raise RuntimeError(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found: install Debian's "
        "postgresql package (`apt-get install postgresql`) or set PG_BIN"
    )


class PgServer:
    def __init__(self, folder: Path, *, durable: bool = False) -> None:
        self.folder = folder
        self.durable = durable  # the benchmark's: PostgreSQL's default fsync and commits
        self.data = folder / "data"
        self.socket = folder / "socket"
        self.bin = server_bin()
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # A session and an environment of its own: the server must not look like part of any
        # test's process tree, session or attempt (tests kill those).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr or result.stdout}")

    def start(self) -> None:
        self.socket.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.socket, "postgres")
            # The test's temporary folders must be reachable by the server's user.
            for parent in self.folder.parents:
                if parent == Path("/") or parent == Path(self.folder.anchor):
                    break
                if parent.stat().st_mode & 0o001 == 0:
                    parent.chmod(parent.stat().st_mode | 0o001)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self.resume()

    def _options(self) -> str:
        speed = (
            []
            if self.durable
            else [
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        return " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories={self.socket}",
                *speed,
                "-c max_connections=200",
                "-c shared_buffers=32MB",
            ]
        )

    def resume(self, patience: float = 60) -> None:
        """Start the server (again, after :meth:`halt`) on its data folder and socket. A start
        refused while the old server's last process is still going away (seen once, at load 9:
        "another server might be running") is tried again until ``patience`` runs out; the
        last refusal is raised with the end of the server's log."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self._run(
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    self._options(),
                    "-l",
                    str(self.folder / "server.log"),
                    "-w",
                    "start",
                )
                return
            except RuntimeError as refused:
                if time.monotonic() > deadline:
                    log = self.folder / "server.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise RuntimeError(f"{refused}\n{tail}") from refused
                time.sleep(0.5)

    def halt(self) -> None:
        """Stop the server as an administrator would for a restart (``pg_ctl stop``, fast
        mode: every connection is told it ends), keeping its data."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except RuntimeError as exc:
            sys.stderr.write(f"stopping the test PostgreSQL server: {exc}\n")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str) -> None:
        try:
            with self.admin() as conn:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        except psycopg.OperationalError as exc:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"the test PostgreSQL server is not answering: {exc}\n{log}"
            ) from exc

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
