"""A loopback stand-in for the GDC API: ``files``, ``cases``, ``ssm_occurrences``,
``cnv_occurrences`` (filters, fields ignored, from/size pagination) and
``data/{file_id}`` (Range, injectable faults).

Faults are queued per file id and consumed one per data request:
``("drop", n)`` sends full headers then ``n`` bytes and closes the connection;
``("corrupt",)`` sends the right length with wrong bytes; ``("status", 429|503, retry_after)``;
``("ignore_range",)`` answers 200 with the whole body to a ranged request;
``("overflow", extra, announce)`` sends the (ranged) body and then ``extra`` more bytes
of junk, with no Content-Length (the end is the closed connection) unless ``announce``,
when the header counts the junk too.
The server stops by itself after ``lifetime`` seconds so no test can hang on it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeFile:
    content: bytes
    hit: dict[str, Any]


@dataclass
class FakeGDC:
    files: dict[str, FakeFile] = field(default_factory=dict)
    entities: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    faults: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    requests: list[dict] = field(default_factory=list)
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks, to make a download slow enough to kill
    require_token: str | None = None
    lifetime: float = 120.0

    def add_file(self, file_id: str, content: bytes, hit: dict[str, Any]) -> None:
        self.files[file_id] = FakeFile(content, {"id": file_id, "file_id": file_id, **hit})
        self.entities["files"].append(self.files[file_id].hit)

    def fault(self, file_id: str, *faults: tuple) -> None:
        self.faults[file_id].extend(faults)

    def data_requests(self, file_id: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == f"/data/{file_id}"]

    def __enter__(self) -> FakeGDC:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _record(self, body: Any = None) -> str:
                path = urlsplit(self.path).path
                fake.requests.append({"method": self.command, "path": path, "query": urlsplit(self.path).query,
                                      "headers": dict(self.headers), "body": body})
                return path

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self._record(body)
                self._search(path.strip("/"), body)

            def do_GET(self):
                path = self._record()
                if path.startswith("/data/"):
                    return self._data(path.split("/", 2)[2])
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if "filters" in params:
                    params["filters"] = json.loads(params["filters"])
                self._search(path.strip("/"), params)

            def _send(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _search(self, endpoint: str, params: dict):
                if endpoint not in fake.entities and endpoint not in ("files", "cases"):
                    return self._send(404, b'{"message": "no such endpoint"}')
                hits = [h for h in fake.entities[endpoint] if matches(h, params.get("filters"), endpoint)]
                start, size = int(params.get("from", 0)), int(params.get("size", 10))
                page = hits[start:start + size]
                doc = {"data": {"hits": page, "pagination": {
                    "count": len(page), "total": len(hits), "size": size, "from": start,
                    "page": start // max(size, 1) + 1, "pages": -(-len(hits) // max(size, 1))}},
                    "warnings": {}}
                self._send(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

            def _data(self, file_id: str):
                if fake.require_token and self.headers.get("X-Auth-Token") != fake.require_token:
                    return self._send(403, b'{"message": "forbidden"}')
                if file_id not in fake.files:
                    return self._send(404, b'{"message": "not found"}')
                content = fake.files[file_id].content
                fault = fake.faults[file_id].popleft() if fake.faults[file_id] else None
                if fault and fault[0] == "status":
                    extra = {"Retry-After": str(fault[2])} if len(fault) > 2 and fault[2] is not None else {}
                    return self._send(fault[1], b'{"message": "try later"}', extra)
                start = 0
                rng = self.headers.get("Range")
                ranged = bool(rng) and not (fault and fault[0] == "ignore_range")
                if ranged:
                    start = int(rng.split("=", 1)[1].split("-", 1)[0])
                    if start >= len(content):
                        return self._send(416, b"", {"Content-Range": f"bytes */{len(content)}"})
                body = content[start:]
                if fault and fault[0] == "corrupt":
                    body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
                if fault and fault[0] == "overflow":
                    return self._overflow(body, start if ranged else None, len(content), *fault[1:])
                self.send_response(206 if ranged else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Disposition", f'attachment; filename="{fake.files[file_id].hit.get("file_name", file_id)}"')
                self.send_header("Accept-Ranges", "bytes")
                if ranged:
                    self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                limit = fault[1] if fault and fault[0] == "drop" else len(body)
                sent = 0
                try:
                    while sent < limit:
                        n = min(65536, limit - sent)
                        self.wfile.write(body[sent:sent + n])
                        sent += n
                        if fake.chunk_delay:
                            time.sleep(fake.chunk_delay)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                if limit < len(body):
                    self.close_connection = True  # dropped mid-file

            def _overflow(self, body: bytes, start, total: int, extra: int, announce: bool = False):
                self.send_response(206 if start is not None else 200)
                self.send_header("Content-Type", "application/octet-stream")
                if start is not None:
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                if announce:
                    self.send_header("Content-Length", str(len(body) + extra))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                junk = b"\xAA" * 65536
                try:
                    self.wfile.write(body)
                    sent = 0
                    while sent < extra:
                        n = min(len(junk), extra - sent)
                        self.wfile.write(junk[:n])
                        sent += n
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client hung up before the junk was all out

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self._server.shutdown)
        self._timer.daemon = True
        self._timer.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()


def lookup(hit: Any, dotted: str) -> list:
    """All values at a dotted path, descending through lists (GDC nested documents)."""
    out: list = []

    def walk(obj: Any, keys: list[str]) -> None:
        if isinstance(obj, list):
            for item in obj:
                walk(item, keys)
        elif not keys:
            out.append(obj)
        elif isinstance(obj, dict) and keys[0] in obj:
            walk(obj[keys[0]], keys[1:])

    walk(hit, dotted.split("."))
    return out


def matches(hit: dict, filt: dict | None, endpoint: str = "") -> bool:
    """Evaluate the subset of GDC filter operators the client uses: and, or, in, =."""
    if not filt:
        return True
    op = filt["op"].lower()
    if op == "and":
        return all(matches(hit, f, endpoint) for f in filt["content"])
    if op == "or":
        return any(matches(hit, f, endpoint) for f in filt["content"])
    field_name, value = filt["content"]["field"], filt["content"]["value"]
    wanted = value if isinstance(value, list) else [value]
    # An endpoint accepts its own fields with or without its name as prefix ("files.access").
    prefix = endpoint + "."
    path = field_name[len(prefix):] if endpoint and field_name.startswith(prefix) else field_name
    got = lookup(hit, path)
    if op in ("in", "="):
        return any(g in wanted for g in got)
    raise ValueError(f"fake GDC: unsupported op {op}")
