"""Email for stakeholder updates against a real SMTP server on loopback
(STARTTLS, a login required over TLS): what arrives, the credentials used, and
each way it can fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mimdesk.connectors.chat import DeliveryUnknown, OutMessage
from mimdesk.connectors.email import SmtpMailer
from mimdesk.connectors.errors import AuthFailed, Permanent, Unreachable

from .servers import free_port
from .smtp import Mailbox, smtp_server

USER, PASSWORD = "mimdesk-relay", "s3cret-relay-pw"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Mailbox, Path]]:
    with smtp_server(tmp_path, USER, PASSWORD) as running:
        yield running


def mailer(port: int, ca: Path, password: str = PASSWORD, **kw: object) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1", port=port, sender="mim@bank.example", user=USER,
        password=password, ca_file=str(ca), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


UPDATE = OutMessage(
    "Card payments are failing for retail customers.\nNext update by 03:30.",
    txn_id="mimdesk-seat-0a1b2c",
    to=("cio@bank.example", "coo@bank.example"),
    subject="[SEV1] Card payments failing - update",
)


def test_an_update_arrives_with_its_recipients_subject_and_body(
    smtp: tuple[int, Mailbox, Path],
) -> None:
    port, box, ca = smtp

    posted = mailer(port, ca).post("email", UPDATE)

    (got,) = box.received
    assert got.sender == "mim@bank.example"
    assert got.recipients == ["cio@bank.example", "coo@bank.example"]
    assert got.message["Subject"] == "[SEV1] Card payments failing - update"
    assert got.message["To"] == "cio@bank.example, coo@bank.example"
    assert "Next update by 03:30." in got.message.get_payload(decode=True).decode()
    assert got.message["Message-ID"] == "<mimdesk-seat-0a1b2c@bank.example>"
    assert posted.remote_id == got.message["Message-ID"]
    assert box.logins == [(USER, True)]  # the credentials were used, over TLS


def test_a_wrong_password_needs_new_credentials(
    smtp: tuple[int, Mailbox, Path],
) -> None:
    port, box, ca = smtp
    with pytest.raises(AuthFailed, match="refused the login of mimdesk-relay"):
        mailer(port, ca, password="wrong").post("email", UPDATE)
    assert box.received == []


def test_a_server_without_our_ca_fails_the_tls_check(
    smtp: tuple[int, Mailbox, Path],
) -> None:
    port, _box, _ca = smtp
    unverified = SmtpMailer(
        "127.0.0.1", port=port, sender="mim@bank.example", user=USER,
        password=PASSWORD,
    )  # fmt: skip
    with pytest.raises(Permanent, match=r"TLS check failed.*ca_file"):
        unverified.post("email", UPDATE)


def test_a_refused_recipient_is_permanent_and_the_others_still_get_it(
    smtp: tuple[int, Mailbox, Path],
) -> None:
    port, box, ca = smtp
    box.refuse = {"coo@bank.example"}
    mailer(port, ca).post("email", UPDATE)
    assert box.received[0].recipients == ["cio@bank.example"]

    box.refuse = {"cio@bank.example", "coo@bank.example"}
    with pytest.raises(Permanent, match="refused every recipient"):
        mailer(port, ca).post("email", UPDATE)


def test_no_server_is_unreachable_and_retried_later() -> None:
    dead = SmtpMailer(
        "127.0.0.1", port=free_port(), sender="mim@bank.example", timeout=2
    )
    with pytest.raises(Unreachable, match="connection refused"):
        dead.post("email", UPDATE)


def test_a_connection_lost_after_the_body_is_unknown(
    smtp: tuple[int, Mailbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtplib

    port, _box, ca = smtp

    def dropped(*_a: object, **_k: object) -> None:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(smtplib.SMTP, "send_message", dropped)
    with pytest.raises(DeliveryUnknown, match="may have arrived"):
        mailer(port, ca).post("email", UPDATE)


def test_a_password_is_never_sent_in_clear_to_another_host() -> None:
    with pytest.raises(Permanent, match="without TLS"):
        SmtpMailer(
            "mail.bank.example", sender="mim@bank.example", security="none",
            user=USER, password=PASSWORD,
        )  # fmt: skip
