"""Which chat platforms this seat can use, built from the settings, the
environment and the secrets. Clients are made on first use, on the thread that
uses them, so a slow login never holds up the console."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mimdesk.connectors.chat import ChatPlatform
from mimdesk.secrets import env_name, get_secret, keyring_problem
from mimdesk.settings import ChatSettings, chat_from_environment

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api"
SECRETS = ("matrix.token", "matrix.password", "slack.token", "slack.webhook",
           "teams.webhook", "smtp.password")  # fmt: skip


@dataclass
class ChatSetup:
    """Factories for the platforms that are set up, and what is wrong with
    the ones that are half set up."""

    factories: dict[str, Callable[[], ChatPlatform]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    default_platforms: tuple[str, ...] = ()
    keyring: str = ""  # the no-keyring banner, or empty
    # Platforms whose channels can be read back (not webhooks).
    readable: set[str] = field(default_factory=set)


def _secret(key: str, setup: ChatSetup) -> str | None:
    value, problem = get_secret(key)
    # Without a keyring, one banner (setup.keyring) says it for every secret.
    if problem and not setup.keyring and problem not in setup.problems:
        setup.problems.append(problem)
    return value


def chat_setup(
    chat: ChatSettings,
    *,
    environ: Mapping[str, str] | None = None,
    device: tuple[Callable[[], str | None], Callable[[str], None]] | None = None,
) -> ChatSetup:
    """The platforms that can be used. `device` loads and saves the Matrix
    device id, so a re-login keeps the same device (and its history)."""
    chat, env_problems = chat_from_environment(chat, environ)
    setup = ChatSetup(problems=list(env_problems), keyring=keyring_problem())
    _matrix(chat, setup, device)
    _slack(chat, setup)
    _teams(chat, setup)
    _email(chat, setup)
    # Email is for stakeholder updates, not a place to open incident channels.
    wanted = chat.platforms or tuple(p for p in setup.factories if p != "email")
    setup.default_platforms = tuple(p for p in wanted if p in setup.factories)
    missing = [p for p in chat.platforms if p not in setup.factories]
    if missing:
        setup.problems.append(
            f"[chat] platforms names {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not set up (see the README, "
            "'Chat')"
        )
    for problem in [setup.keyring, *setup.problems]:
        if problem:
            log.warning("%s", problem)
    return setup


def _matrix(
    chat: ChatSettings,
    setup: ChatSetup,
    device: tuple[Callable[[], str | None], Callable[[str], None]] | None,
) -> None:
    if not chat.matrix_url:
        return
    token = _secret("matrix.token", setup)
    password = None if token else _secret("matrix.password", setup)
    if not token and not (password and chat.matrix_user):
        setup.problems.append(
            "Matrix is set up without credentials: store an access token under "
            f"'matrix.token' (or set {env_name('matrix.token')}), or a user "
            f"([matrix] user) and a password under 'matrix.password' "
            f"({env_name('matrix.password')})"
        )
        return
    url, user, ca = chat.matrix_url, chat.matrix_user, chat.matrix_ca_file
    load, save = device or (lambda: None, lambda _d: None)
    # The sender and the reader each make a client, on their own threads. With
    # a password they share one login (one device, one token): two logins at
    # once would leave two devices behind, and the server's transaction ids
    # are kept per device.
    lock = threading.Lock()
    shared: dict[str, str] = {}

    def make() -> ChatPlatform:
        from mimdesk.connectors.errors import AuthFailed
        from mimdesk.connectors.matrix import MatrixClient

        with lock:
            client = MatrixClient(
                url,
                access_token=token or shared.get("token"),
                user_id=user or None,
                password=password,
                device_id=load(),
                ca_file=str(ca) if ca else None,
            )
            if client.access_token:
                try:
                    client.whoami()
                    return client
                except AuthFailed:
                    if token:
                        raise
                    shared.pop("token", None)  # the shared login ended: again
            client.login()
            if client.access_token:
                shared["token"] = client.access_token
            if client.device_id:
                save(client.device_id)
            return client

    setup.factories["matrix"] = make
    setup.readable.add("matrix")


def _slack(chat: ChatSettings, setup: ChatSetup) -> None:
    token = _secret("slack.token", setup)
    webhook = None if token else _secret("slack.webhook", setup)
    if not token and not webhook:
        return
    api_url, ca = chat.slack_api_url or SLACK_API, chat.slack_ca_file
    interval = chat.slack_history_seconds

    def make() -> ChatPlatform:
        from mimdesk.connectors.slack import SlackClient

        return SlackClient(
            token,
            webhook_url=webhook,
            api_url=api_url,
            ca_file=str(ca) if ca else None,
            history_interval=interval,
        )

    setup.factories["slack"] = make
    if token:
        setup.readable.add("slack")


def _teams(chat: ChatSettings, setup: ChatSetup) -> None:
    webhook = _secret("teams.webhook", setup)
    if not webhook:
        return
    from mimdesk.connectors.errors import ConnectorError
    from mimdesk.connectors.teams import TeamsWebhook

    ca = chat.teams_ca_file
    try:
        TeamsWebhook(webhook, ca_file=str(ca) if ca else None).close()
    except ConnectorError as exc:
        setup.problems.append(f"Teams: {exc.message}")

    def make() -> ChatPlatform:
        return TeamsWebhook(webhook, ca_file=str(ca) if ca else None)

    setup.factories["teams"] = make


def _email(chat: ChatSettings, setup: ChatSetup) -> None:
    if not chat.smtp_host:
        return
    if not chat.smtp_from:
        setup.problems.append(
            "[smtp] host is set without a sender address: add [smtp] from "
            "(or MIMDESK_SMTP_FROM)"
        )
        return
    password = _secret("smtp.password", setup) if chat.smtp_user else None
    if chat.smtp_user and not password:
        setup.problems.append(
            f"[smtp] user {chat.smtp_user} has no password: store it under "
            f"'smtp.password' (or set {env_name('smtp.password')})"
        )
        return
    host, port, security = chat.smtp_host, chat.smtp_port, chat.smtp_security
    user, sender, ca = chat.smtp_user or None, chat.smtp_from, chat.smtp_ca_file

    def make() -> ChatPlatform:
        from mimdesk.connectors.email import SmtpMailer

        return SmtpMailer(
            host, sender=sender, port=port, security=security, user=user,
            password=password, ca_file=str(ca) if ca else None,
        )  # fmt: skip

    setup.factories["email"] = make
