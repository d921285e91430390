"""A loopback HTTP(S) server that answers from a script, for contract tests of
clients whose real servers cannot run here or whose failures cannot be provoked."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Answer:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # dict/list -> JSON; str -> as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    query: str = ""  # as sent, before decoding


Script = Callable[[Seen], Answer]


class FakeServer:
    """Answers every request with `script(request)`; records what it saw."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                seen = Seen(method, parts.path, params, dict(self.headers), parts.query)
                server.seen.append(seen)
                answer = server.script(seen)
                body = answer.body
                if not isinstance(body, str):
                    body = json.dumps(body)
                    kind = "application/json"
                else:
                    kind = "text/plain"
                data = body.encode()
                self.send_response(answer.status)
                headers = {"Content-Type": kind, **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def serving(script: Script, tls: ssl.SSLContext | None = None) -> Iterator[FakeServer]:
    """Run a FakeServer on a free loopback port for the length of the block."""
    fake = FakeServer(script)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    fake.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="fake-http")
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
