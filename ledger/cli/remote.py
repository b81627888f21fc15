"""``ledger export --url URL``: build the audit bundle from a running server's API.

Reads the latest signed checkpoint, then every entry up to its size, with an auditor
or trust token (``LEDGER_TOKEN``). The bundle carries that one checkpoint: it commits
to every entry in the bundle, and ``ledger audit verify`` checks it against the key
you pinned, so nothing here needs to trust the server.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..bundle import checkpoint_line, header_line
from ..checkpoint import parse_body
from ..client import LedgerClient
from .output import Progress, print_json

PAGE = 1000


def export_remote(url: str, token: str, out: Path, as_json: bool) -> int:
    client = LedgerClient(url, token=token or None)
    note = client.text("/v1/log/checkpoint")
    vkey = client.text("/v1/log/key").strip()
    body = note.split("\n\n", 1)[0] + "\n"
    checkpoint = parse_body(body)
    size = checkpoint.size
    bar = Progress("export", size, enabled=not as_json)
    tmp = out.with_name(out.name + ".partial")
    done = 0
    with tmp.open("wb") as fh:
        fh.write(header_line(checkpoint.origin, vkey, size))
        while done < size:
            page = client._json("GET", "/v1/log/entries",
                                query={"start": done, "limit": min(PAGE, size - done)})
            for entry in page["entries"]:
                if entry["index"] != done:
                    raise ValueError(f"server sent entry {entry['index']}, expected {done}")
                fh.write(json.dumps({"index": entry["index"], "leaf": entry["leaf"],
                                     "envelope": entry["envelope"]},
                                    separators=(",", ":"), ensure_ascii=False).encode()
                         + b"\n")
                done += 1
            bar.update(done)
            if not page["entries"]:
                raise ValueError(f"server stopped at entry {done} of {size}")
        fh.write(checkpoint_line(note))
    tmp.replace(out)
    bar.close()
    if as_json:
        print_json({"ok": True, "out": str(out), "entries": done, "url": url})
    else:
        print(f"wrote {done} entries to {out} (checkpoint of size {size} from {url})")
    return 0
