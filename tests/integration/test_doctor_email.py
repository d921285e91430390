"""`mimdesk doctor` on stakeholder-update email (a real SMTP server with
STARTTLS and AUTH) and on chat settings from the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mimdesk.doctor import check_email, checks_for
from mimdesk.paths import resolve
from mimdesk.settings import ChatSettings, Settings

from .servers import free_port
from .smtp import smtp_server

USER, PASSWORD = "mimdesk-relay", "doctor-pw-91"


def secrets_with(password: str | None) -> Callable[[str], tuple[str | None, str]]:
    def lookup(key: str) -> tuple[str | None, str]:
        return (password if key == "smtp.password" else None), ""

    return lookup


def test_email_is_checked_with_tls_and_login_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    with smtp_server(tmp_path, USER, PASSWORD) as (port, box, ca):
        chat = ChatSettings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_user=USER,
            smtp_from="mim@bank.example", smtp_ca_file=ca,
        )  # fmt: skip
        good = check_email(chat, secret=secrets_with(PASSWORD))
        bad = check_email(chat, secret=secrets_with("wrong"))

    assert good.status == "ok", good.message
    assert "nothing sent" in good.message
    assert bad.status == "failed"
    assert "refused the login of mimdesk-relay" in bad.message
    assert box.received == []
    assert (USER, True) in box.logins


def test_email_not_listening_and_not_set_up(tmp_path: Path) -> None:
    dead = ChatSettings(smtp_host="127.0.0.1", smtp_port=free_port(),
                        smtp_from="mim@bank.example", smtp_security="none")  # fmt: skip
    assert check_email(dead).status == "failed"
    assert "connection refused" in check_email(dead).message
    assert check_email(ChatSettings()).status == "skipped"


def test_a_bad_url_in_the_environment_fails_the_doctor(tmp_path: Path) -> None:
    paths = resolve(str(tmp_path / "data"), str(tmp_path / "none.toml"))
    names = [
        name
        for name, check in checks_for(
            paths, Settings(), environ={"MIMDESK_MATRIX_URL": "matrix.example.org"}
        )
        if name == "environment" and check().status == "failed"
    ]
    assert names == ["environment"]
