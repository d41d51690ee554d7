"""A loopback stand-in for the parts of the Hugging Face Hub that ``hf_hub_download`` uses:
HEAD/GET ``/{org}/{repo}/resolve/{revision}/{filename}`` with ``X-Repo-Commit``,
``ETag`` and ``Content-Length``; a gated repo answers 403 + ``X-Error-Code: GatedRepo``
unless the right bearer token is sent. Stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: dict[str, str] = field(default_factory=dict)  # repo -> token that has access
    requests: list[dict] = field(default_factory=list)
    lifetime: float = 60.0

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, head_only: bool):
                path = unquote(urlsplit(self.path).path).strip("/")
                hub.requests.append({"method": self.command, "path": path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                parts = path.split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._status(404, "EntryNotFound")
                repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
                if repo not in hub.repos:
                    return self._status(401, "RepoNotFound")
                if repo in hub.gated and self.headers.get("Authorization") != f"Bearer {hub.gated[repo]}":
                    return self._status(403, "GatedRepo")
                if filename not in hub.repos[repo]:
                    return self._status(404, "EntryNotFound")
                body = hub.repos[repo][filename]
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not head_only:
                    self.wfile.write(body)

            def _status(self, code: int, error_code: str):
                body = b'{"error": "' + error_code.encode() + b'"}'
                self.send_response(code)
                self.send_header("X-Error-Code", error_code)
                self.send_header("X-Error-Message", error_code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                self._reply(head_only=True)

            def do_GET(self):
                self._reply(head_only=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
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
