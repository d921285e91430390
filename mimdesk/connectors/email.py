"""Email over SMTP for stakeholder updates, behind the outbox like a chat platform.

One connection per message (updates are few; a kept connection would only
time out between them). Security is STARTTLS (port 587), implicit TLS (465),
or none for a relay on loopback. Credentials come from the keyring.

Delivery is at most once: SMTP has no idempotency key. A failure before the
server took the message is retried; a connection lost after the body was sent
is "unknown" (the server may have accepted it), for the operator to decide.
Each message carries a Message-ID made from its outbox transaction id, so a
copy the operator chooses to send again is recognisable as the same update.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mimdesk.connectors.chat import Batch, DeliveryUnknown, Limits, OutMessage, Posted
from mimdesk.connectors.errors import AuthFailed, Permanent, Transient, Unreachable
from mimdesk.domain.audiences import EMAIL

log = logging.getLogger(__name__)

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
TIMEOUT_S = 30.0
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DESTINATION = "email"


class SmtpMailer:
    """Sends one email per `post`; the `channel` is always "email"."""

    name = "email"
    limits = Limits(max_text=200_000)
    can_read = False
    can_create = False
    can_find_sent = False

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        port: int | None = None,
        security: str = "starttls",
        user: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        if security not in SECURITY:
            raise Permanent(
                f"[smtp] security must be one of {', '.join(SECURITY)}, "
                f"not {security!r}"
            )
        if security == "none" and host not in LOOPBACK and password:
            raise Permanent(
                f"refusing to send the SMTP password to {host} without TLS: set "
                "[smtp] security to starttls or ssl"
            )
        if not EMAIL.match(sender):
            raise Permanent(f"[smtp] from must be an email address, not {sender!r}")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.sender = sender
        self.security = security
        self.user = user
        self._password = password
        self._context = ssl.create_default_context(cafile=ca_file)
        self.timeout = timeout

    def close(self) -> None:
        pass  # nothing kept open between messages

    # --- the chat interface ---------------------------------------------------

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        return DESTINATION

    def set_topic(self, channel: str, topic: str) -> None:
        log.debug("email: no topic to set")

    def invite(self, channel: str, user: str) -> None:
        raise Permanent("email has no channel to invite anyone to")

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        raise Permanent("replies to email are not read back")

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        return None

    def post(self, channel: str, message: OutMessage) -> Posted:
        if not message.to:
            raise Permanent("an email needs at least one recipient")
        mail = self.compose(message)
        self._send(mail, list(message.to))
        return Posted(str(mail["Message-ID"]))

    # --- SMTP -----------------------------------------------------------------

    def compose(self, message: OutMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject or message.text.split("\n", 1)[0][:120]
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.sender.rsplit("@", 1)[-1] or "mimdesk.invalid"
        idstring = message.txn_id or None
        mail["Message-ID"] = (
            f"<{idstring}@{domain}>" if idstring else make_msgid(domain=domain)
        )
        mail.set_content(message.text)
        return mail

    def test(self) -> str:
        """Connect, secure and log in, send nothing: what `doctor` checks."""
        with self._connect() as smtp:
            self._login(smtp)
        return f"{self.host}:{self.port} accepts {self.user or 'anonymous'} mail"

    def _connect(self) -> smtplib.SMTP:
        where = f"SMTP server {self.host}:{self.port}"
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise Permanent(
                        f"{where} does not offer STARTTLS; set [smtp] security to "
                        "ssl (port 465), or none for a relay on this machine"
                    )
                smtp.starttls(context=self._context)
                smtp.ehlo()
            return smtp
        except ssl.SSLError as exc:
            raise Permanent(
                f"TLS check failed for {where}: {exc.reason or exc} (set [smtp] "
                "ca_file if the server uses a private CA)"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, Permanent):
                raise
            raise Unreachable(f"cannot reach {where}: {_why(exc)}") from None

    def _login(self, smtp: smtplib.SMTP) -> None:
        if not (self.user and self._password):
            return
        try:
            smtp.login(self.user, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(
                f"the SMTP server {self.host} refused the login of {self.user} "
                f"({exc.smtp_code}); store the right password under 'smtp.password'"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise Permanent(
                f"the SMTP server {self.host} offers no login; remove [smtp] user"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unreachable(
                f"the SMTP server {self.host} broke off the login: {_why(exc)}"
            ) from None

    def _send(self, mail: EmailMessage, to: list[str]) -> None:
        smtp = self._connect()
        try:
            self._login(smtp)
            try:
                refused = smtp.send_message(mail, from_addr=self.sender, to_addrs=to)
            except smtplib.SMTPRecipientsRefused as exc:
                raise Permanent(
                    "the SMTP server refused every recipient: "
                    + "; ".join(f"{r} ({c[0]})" for r, c in exc.recipients.items())
                ) from None
            except smtplib.SMTPSenderRefused as exc:
                raise Permanent(
                    f"the SMTP server refused the sender {self.sender} "
                    f"({exc.smtp_code}); check [smtp] from"
                ) from None
            except smtplib.SMTPDataError as exc:
                said = f"{exc.smtp_code} {exc.smtp_error!r}"
                if 400 <= exc.smtp_code < 500:
                    raise Transient(f"the SMTP server deferred it: {said}") from None
                raise Permanent(f"the SMTP server rejected it: {said}") from None
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # The body may have been taken before the line dropped.
                raise DeliveryUnknown(
                    f"the connection to {self.host} was lost while sending "
                    f"({_why(exc)}); the email may have arrived"
                ) from None
            if refused:
                log.warning("email: some recipients were refused: %s", refused)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return str(exc) or type(exc).__name__
