"""A real PostgreSQL streaming replica for the router's tests: a primary cluster of our own
(initdb) and a standby made from it with pg_basebackup, each on a port of this branch's range,
run as the `postgres` OS user (PostgreSQL refuses to run as root), stopped in a finalizer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
NEEDED = ("initdb", "pg_ctl", "pg_basebackup")
PRIMARY_PORT, REPLICA_PORT = 7210, 7211


def missing_binaries() -> list[str]:
    return [name for name in NEEDED if not (BIN / name).exists()]


def _as_postgres(*args: str, timeout: float = 120) -> None:
    command = [str(a) for a in args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=timeout)


class StreamingPair:
    """A primary and its streaming replica, with a database `shebao` made on the primary."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="shebao-replica-"))
        self.primary_dir = self.root / "primary"
        self.replica_dir = self.root / "replica"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.running: list[Path] = []

    def url(self, port: int, dbname: str = "shebao") -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{dbname}"

    def connect(self, port: int, dbname: str = "shebao") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True
        )

    def _start(self, data: Path, port: int) -> None:
        _as_postgres(
            BIN / "pg_ctl", "-D", data, "-l", data / "server.log", "-w", "-t", "60",
            "-o", f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip
        self.running.append(data)

    def start(self) -> StreamingPair:
        _as_postgres(
            BIN / "initdb", "-D", self.primary_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self._start(self.primary_dir, PRIMARY_PORT)
        with self.connect(PRIMARY_PORT, "postgres") as conn:
            conn.execute("CREATE DATABASE shebao")
        _as_postgres(
            BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", PRIMARY_PORT, "-U", "postgres",
            "-D", self.replica_dir, "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        self._start(self.replica_dir, REPLICA_PORT)
        return self

    def stop_replica(self) -> None:
        self._stop(self.replica_dir)

    def _stop(self, data: Path) -> None:
        if data in self.running:
            with contextlib.suppress(subprocess.SubprocessError):
                _as_postgres(BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
            self.running.remove(data)

    def close(self) -> None:
        for data in list(self.running):
            self._stop(data)
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary wrote so far."""
        with self.connect(PRIMARY_PORT) as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.connect(REPLICA_PORT) as replica:
            while time.monotonic() < deadline:
                done = replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
                ).fetchone()[0]
                if done:
                    return
                time.sleep(0.1)
        raise AssertionError("the replica did not catch up")
