"""The Alertmanager webhook receiver: an HTTP endpoint on background threads that
checks each delivery and hands its raw body to the alert sink."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mimdesk.domain.alerts import Notification, parse_webhook
from mimdesk.domain.errors import DomainError
from mimdesk.secrets import env_name, get_secret
from mimdesk.settings import ReceiverSettings
from mimdesk.sync.alert_sink import AlertSink

log = logging.getLogger(__name__)

SECRET_KEY = "receiver"
DEFAULT_LISTEN = "127.0.0.1"
DEFAULT_PORT = 9095
DEFAULT_PATH = "/hooks/alertmanager"
MAX_BYTES = 1024 * 1024
# Seconds a client may take over its whole request body, and over each header
# line, before it is answered 408 and its worker freed.
READ_TIMEOUT_S = 10.0
# After refusing a request whose body was not read, how long what the client is
# still sending is discarded, so it reads the answer rather than a reset.
LINGER_S = 1.0
# Longest reason text sent back or logged: it may quote the payload.
REASON_CHARS = 200
_CHUNK = 64 * 1024

# Told the group key and group labels of a webhook that left alerts out.
OnTruncated = Callable[[str, Mapping[str, str]], None]


class ReceiverError(Exception):
    """The receiver cannot start: no token, or the address cannot be used."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def receiver_token() -> tuple[str | None, str]:
    """The bearer token Alertmanager must send, and a problem to show."""
    return get_secret(SECRET_KEY)


def no_token_message() -> str:
    return (
        "the alert receiver needs a bearer token and none is stored: run "
        f"`python -m keyring set mimdesk {SECRET_KEY}`, or where there is no "
        f"keyring set {env_name(SECRET_KEY)} in the environment, and "
        "give Alertmanager the same token in the webhook's http_config "
        "(authorization: credentials)"
    )


def open_receiver(settings: ReceiverSettings, sink: AlertSink) -> AlertReceiver | None:
    """The receiver the settings ask for, not yet started; None when it is off.
    Its start() raises ReceiverError (say it on screen) when no token is stored."""
    if not settings.enabled:
        return None
    token, problem = receiver_token()
    if problem:
        log.warning("alert receiver token: %s", problem)
    return AlertReceiver(
        sink,
        token,
        listen=settings.listen,
        port=settings.port,
        path=settings.path,
        max_bytes=settings.max_bytes,
    )


@dataclass(frozen=True)
class Reply:
    """The answer to one request, and what the log line says of it."""

    status: int
    text: str
    alerts: int | None = None


class AlertReceiver:
    """Serves POST `path` on `listen`:`port` until stopped. Each request runs on
    its own thread; the sink is called on those threads."""

    def __init__(
        self,
        sink: AlertSink,
        token: str | None,
        *,
        listen: str = DEFAULT_LISTEN,
        port: int = DEFAULT_PORT,
        path: str = DEFAULT_PATH,
        max_bytes: int = MAX_BYTES,
        read_timeout: float = READ_TIMEOUT_S,
        on_truncated: OnTruncated | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sink = sink
        self._token = (token or "").encode()
        self.listen = listen
        self.port = port
        self.path = path
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        # Settable after start: app.py points it at the poller once both exist.
        self.on_truncated = on_truncated
        self._clock = clock
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where Alertmanager must send: the bound port once started."""
        port = self._server.server_address[1] if self._server else self.port
        host = f"[{self.listen}]" if ":" in self.listen else self.listen
        return f"http://{host}:{port}{self.path}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Listen and serve on a background thread; ReceiverError if it cannot."""
        if self._server is not None:
            raise RuntimeError("the receiver is already running")
        if not self._token:
            raise ReceiverError(no_token_message())
        try:
            self._server = _Server((self.listen, self.port), self)
        except OSError as exc:
            raise ReceiverError(
                f"cannot listen on {self.listen}:{self.port}: {exc.strerror or exc}"
                " (another MIMDesk or program may hold the port: close it, or set "
                "another [receiver] port in settings.toml and in Alertmanager)"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="alert-receiver",
            daemon=True,
        )
        self._thread.start()
        _warn_if_exposed(self.listen)
        log.info("alert receiver listening on %s", self.url)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop listening, cut open connections, and wait for every worker."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return True
        server.shutdown()
        server.cut_connections()
        server.server_close()
        thread.join(timeout)
        self._server = self._thread = None
        log.info("alert receiver stopped")
        return not thread.is_alive()

    def authorised(self, header: str | None) -> bool:
        scheme, _, given = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    def deliver(self, raw: bytes, peer: str) -> Reply:
        """Keep a delivery that arrived whole; the answer for Alertmanager."""
        try:
            text = raw.decode("utf-8")
            payload = json.loads(text)
        except UnicodeDecodeError:
            return Reply(400, "the body is not UTF-8 text")
        except json.JSONDecodeError as exc:
            return Reply(400, f"invalid JSON: {exc.msg} (line {exc.lineno})")
        except RecursionError:
            return Reply(400, "invalid JSON: nested too deeply")
        try:
            note: Notification | None = parse_webhook(payload)
            problem = ""
        except DomainError as exc:
            note, problem = None, str(exc)
        if not self._keep(text, peer, note is not None):
            return Reply(503, "the delivery could not be stored; try again later")
        if note is None:
            return Reply(422, f"not an Alertmanager webhook (version 4): {problem}")
        self._truncated(note)
        return Reply(200, "ok", len(note.alerts))

    def _keep(self, text: str, peer: str, readable: bool) -> bool:
        """Hand the body to the sink; False if it could not be kept."""
        try:
            result = self._sink.receive_alerts(
                text, source=f"webhook {peer}", received_at=self._clock()
            )
        except Exception:  # whatever failed, the body is not kept: ask again
            log.exception("webhook from %s could not be kept", peer)
            return False
        if readable and result.errors:
            # Kept, and retried by the store: nothing Alertmanager could fix.
            log.warning(
                "webhook from %s kept as delivery #%s but not processed: %s",
                peer,
                result.delivery_id,
                "; ".join(result.errors),
            )
        return True

    def _truncated(self, note: Notification) -> None:
        if not note.truncated or self.on_truncated is None:
            return
        log.info(
            "webhook for group %s left out %d alert(s); reconciling",
            note.group_key,
            note.truncated,
        )
        try:
            self.on_truncated(note.group_key, dict(note.group_labels))
        except Exception:  # the delivery is kept; the next poll catches up
            log.exception("could not ask for the rest of group %s", note.group_key)


def _warn_if_exposed(listen: str) -> None:
    try:
        loopback = ipaddress.ip_address(listen).is_loopback
    except ValueError:
        loopback = listen == "localhost"
    if not loopback:
        # FIXME(alerts): the receiver speaks plain HTTP; beyond loopback the token
        # crosses the network in clear. Serving TLS (or a TLS proxy) would fix it.
        log.warning(
            "alert receiver listens on %s, beyond this machine, without TLS", listen
        )


class _Server(ThreadingHTTPServer):
    """The HTTP server; it waits for its workers on close and can cut them off."""

    # FIXME(alerts): one thread per connection with no cap, and the read timeout
    # applies per header line, so many clients trickling headers (before any
    # token check) can pile up threads. A connection cap (a semaphore around
    # process_request) and a deadline for the whole header would bound it.

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], receiver: AlertReceiver) -> None:
        self.receiver = receiver
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._open_lock:
            if open_:
                self._open.add(connection)
            else:
                self._open.discard(connection)

    def cut_connections(self) -> None:
        """Wake every worker blocked reading a client, so stopping is prompt."""
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """One connection: one request (HTTP/1.0), answered and closed."""

    server: _Server
    server_version = "MIMDesk"
    sys_version = ""

    def setup(self) -> None:
        self.server.track(self.request, True)
        super().setup()
        # Each header line must arrive within this; the body has a deadline.
        self.request.settimeout(self.server.receiver.read_timeout)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def do_POST(self) -> None:
        receiver = self.server.receiver
        peer = self.client_address[0]
        refused = self._refusal(receiver)
        if refused is not None:
            self._answer(refused, self._declared_length(), peer)
            self._linger()
            return
        length = int(self.headers["Content-Length"])
        try:
            raw = self._read_body(length, receiver.read_timeout)
        except TimeoutError:
            reply = Reply(
                408, f"the body did not arrive within {receiver.read_timeout:g} s"
            )
            self._answer(reply, length, peer)
            return
        except ConnectionError as exc:
            log.warning("webhook from %s: connection lost mid-body (%s)", peer, exc)
            return
        self._answer(receiver.deliver(raw, peer), length, peer)

    def do_GET(self) -> None:
        self._answer(Reply(405, "only POST"), 0, self.client_address[0])

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _refusal(self, receiver: AlertReceiver) -> Reply | None:
        """Why the request is refused before its body is read, if it is."""
        if urlsplit(self.path).path != receiver.path:
            return Reply(404, "no such path")
        if not receiver.authorised(self.headers.get("Authorization")):
            return Reply(401, "a valid bearer token is required")
        kind = self.headers.get("Content-Type", "")
        if kind.split(";")[0].strip().lower() != "application/json":
            return Reply(415, "the body must be application/json")
        if self.headers.get("Transfer-Encoding"):
            return Reply(411, "send the body with a Content-Length")
        length = self._declared_length()
        if length is None:
            return Reply(411, "a Content-Length is required")
        if length < 0:
            return Reply(400, "bad Content-Length")
        if length > receiver.max_bytes:
            return Reply(413, f"the body is over {receiver.max_bytes} bytes")
        return None

    def _declared_length(self) -> int | None:
        text = self.headers.get("Content-Length")
        if text is None:
            return None
        return int(text) if text.strip().isdigit() else -1

    def _read_body(self, length: int, limit_s: float) -> bytes:
        """The body, read within `limit_s` seconds in all (not per packet)."""
        deadline = time.monotonic() + limit_s
        parts: list[bytes] = []
        got = 0
        while got < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.request.settimeout(left)
            chunk = self.rfile.read1(min(_CHUNK, length - got))
            if not chunk:
                raise ConnectionError(f"closed after {got} of {length} bytes")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _answer(self, reply: Reply, size: int | None, peer: str) -> None:
        text = reply.text[:REASON_CHARS]
        data = (text + "\n").encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            if reply.status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="mimdesk"')
            if reply.status == 405:
                self.send_header("Allow", "POST")
            self.end_headers()
            self.wfile.write(data)
        except OSError as exc:
            log.info("webhook from %s: could not answer (%s)", peer, exc)
        self.close_connection = True
        _log_delivery(peer, size, reply, text)

    def _linger(self) -> None:
        """Close after a refusal without resetting a client still sending."""
        try:
            self.wfile.flush()
            self.request.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            while (left := deadline - time.monotonic()) > 0:
                self.request.settimeout(left)
                if not self.request.recv(_CHUNK):
                    break
        except OSError:
            pass  # the client is gone: nothing left to protect

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # each delivery is logged once, with its outcome, by _log_delivery

    def log_message(self, format: str, *args: Any) -> None:
        log.info("receiver: %s: %s", self.client_address[0], format % args)


def _log_delivery(peer: str, size: int | None, reply: Reply, text: str) -> None:
    shown = "?" if size is None else str(size)
    count = "-" if reply.alerts is None else str(reply.alerts)
    if reply.status < 400:
        log.info(
            "webhook from %s: %s bytes, HTTP %d, %s alert(s)",
            peer,
            shown,
            reply.status,
            count,
        )
    else:
        log.warning(
            "webhook from %s: %s bytes, HTTP %d: %s", peer, shown, reply.status, text
        )
