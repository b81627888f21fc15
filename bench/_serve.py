"""A real ``ledger serve`` for the benchmarks, and a minimal HTTP/1.1 client on asyncio
streams (so that the load generator costs the shared CPU far less than the server it
measures)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _setup import LEDGER_ID

_HERE = os.path.dirname(os.path.abspath(__file__))
START_TIMEOUT = 300.0  # start-up checks only what the last checkpoint leaves (ledger/log.py)

# The server's limits are raised out of the way (the clients share one address and
# register their organizations without tokens; the realistic events keep the dates
# their lives were decided with); printed with the figures.
SERVER_SETTINGS = {"LEDGER_WRITES_PER_KEY_PER_SECOND": "100000",
                   "LEDGER_APPENDS_PER_ADDRESS_PER_SECOND": "1000000",
                   "LEDGER_OPEN_REGISTRATION": "1",
                   "LEDGER_MAX_SKEW_SECONDS": "1000000000"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_table() -> tuple[dict[int, int], dict[int, list[int]]]:
    """Each process's CPU ticks (user + system) and each one's children (Linux /proc)."""
    parent: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        child = int(entry.parent.name)
        parent[child] = int(fields[1])  # ppid; utime and stime are fields 14 and 15
        used[child] = int(fields[11]) + int(fields[12])
    children: dict[int, list[int]] = {}
    for child, ppid in parent.items():
        children.setdefault(ppid, []).append(child)
    return used, children


def process_tree(pid: int) -> tuple[set[int], dict[int, int]]:
    used, children = _proc_table()
    tree, todo = set(), [pid]
    while todo:
        member = todo.pop()
        if member in used:
            tree.add(member)
        todo += children.get(member, [])
    return tree, used


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its live descendants (Linux ``/proc``;
    None elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    tree, used = process_tree(pid)
    if pid not in tree:
        return None
    return sum(used[member] for member in tree) / ticks


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` and its descendants, MiB (Linux ``/proc``)."""
    tree, _ = process_tree(pid)
    total = 0
    for member in tree:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024 if tree else None


def load() -> str:
    """The load average (1, 5, 15 min): the machine is shared, the figures follow it."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Server:
    """``ledger serve`` on a free port; ``stop()`` always ends it."""

    def __init__(self, dsn: str, home: Path, workers: int = 1,
                 extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(DATABASE_URL=dsn, LEDGER_HOME=str(home), LEDGER_ORIGIN=LEDGER_ID,
                   **SERVER_SETTINGS, **(extra or {}))
        self.log = home / "serve.log"
        home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ledger", "serve", "--port", str(self.port),
                 "--workers", str(workers), "--log-level", "warning"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=os.path.dirname(_HERE))

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ledger serve exited:\n{self.log.read_text()}")
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"ledger serve did not get ready:\n{self.log.read_text()}")

    async def history_checked(self, timeout: float = START_TIMEOUT) -> float:
        """Wait until the background check of the whole stored history has passed (it
        runs beside the requests after every start, ``ledger.history_check``), so that a
        measurement is of a server at rest, not of one still re-reading its log; the
        seconds it took."""
        t0 = time.monotonic()
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            while time.monotonic() - t0 < timeout:
                check = (await http.get("/readyz")).json().get("history_check") or {}
                if check.get("status") == "passed":
                    return time.monotonic() - t0
                if check.get("status") in ("failed", "stopped"):
                    raise RuntimeError(f"the history check {check['status']}: {check}")
                await asyncio.sleep(0.5)
        raise RuntimeError("the history check did not finish")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (the server always sends a length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def post_request(port: int, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def get_request(port: int, path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Accept: application/json\r\n{auth}\r\n").encode()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def start_profile(pid: int, path: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` (200 Hz, collapsed stacks into ``path``: speedscope and
    flame graph tools read them); None without py-spy (``pip install py-spy``)."""
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        print("  (no py-spy: no profile)", flush=True)
        return None
    return subprocess.Popen([spy, "record", "--subprocesses", "-p", str(pid), "-o", path,
                             "--format", "raw", "--rate", "200", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop_profile(spy: subprocess.Popen[bytes] | None, path: str) -> None:
    if spy is None:
        return
    spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
    spy.wait(timeout=60)
    top(path)


def top(profile: str, n: int = 10) -> None:
    """The ``n`` functions with the most samples of their own, and the most samples in
    all (own or below), from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in Path(profile).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        k = int(count)
        total += k
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + k
        for frame in set(frames):  # the project's own functions
            if "(ledger/" in frame or "(api/" in frame or "(projections/" in frame:
                inclusive[frame] = inclusive.get(frame, 0) + k
    print(f"  profile of the server during the appends ({total:,} samples, {profile}):")
    for title, table in (("own", own), ("inclusive (the project's functions)", inclusive)):
        print(f"    top {n} by {title} samples:")
        for frame, k in sorted(table.items(), key=lambda kv: -kv[1])[:n]:
            print(f"      {100 * k / total:5.1f} %  {frame}")
