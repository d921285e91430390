"""A real SMTP server on loopback (aiosmtpd), with STARTTLS and AUTH, that
keeps what it received: the stakeholder-update email tests send to it."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .servers import free_port, self_signed


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class Mailbox:
    """What the server accepted, the logins it saw, who it refuses."""

    user: str
    password: str
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.original_content),
                )
            )
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = (user, password) == (self.user, self.password)
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535


@contextmanager
def smtp_server(
    folder: Path, user: str, password: str
) -> Iterator[tuple[int, Mailbox, Path]]:
    """A STARTTLS server requiring a login over TLS; gives (port, mailbox, CA)."""
    cert, key = self_signed(folder, "smtp")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    box = Mailbox(user, password)
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=box.authenticate,
    )
    controller.start()
    try:
        yield controller.port, box, cert
    finally:
        controller.stop()
