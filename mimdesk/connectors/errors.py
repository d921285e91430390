"""Errors every connector raises: transient (try again later) or permanent
(a person must change something). Messages say what failed and what to do."""

from __future__ import annotations


class ConnectorError(Exception):
    """A remote system could not do what was asked."""

    transient = False

    def __init__(
        self, message: str, *, status: int | None = None, source_level: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        # True when every request to this server would fail the same way (TLS,
        # no API at this URL, credentials): one message for the server, not one
        # per request.
        self.source_level = source_level


class Unreachable(ConnectorError):
    """The server could not be reached at all: refused, DNS, network, timeout."""

    transient = True


class Transient(ConnectorError):
    """The server answered but asked to be asked again later (503, 429, 502...)."""

    transient = True


class TimedOut(Transient):
    """The server took the request but did not answer in time: a heavy query, or
    a server that hangs. Not retried at once: the same wait would follow."""


class Permanent(ConnectorError):
    """The request itself is wrong and will fail the same way every time."""


class AuthFailed(Permanent):
    """Credentials missing, wrong, expired or revoked."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, source_level=True)


def reason(exc: Exception) -> str:
    """The short cause of a connection failure, fit to show an operator."""
    text = str(exc.args[0] if exc.args else exc)
    if "certificate verify failed" in text:
        return "certificate verify failed" + text.split("certificate verify failed")[
            1
        ].split("(")[0].rstrip(" ')")
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:200]
