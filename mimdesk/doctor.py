"""Is everything MIMDesk needs in place? Checks for `mimdesk doctor` and the
Connections dialog: each says ok, failed or skipped and, when it failed, what
failed and what to do. Nothing here prints, and every check has a time limit."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mimdesk.connectors.alertmanager import AlertmanagerClient
from mimdesk.connectors.errors import AuthFailed, ConnectorError, Unreachable
from mimdesk.connectors.http import Auth
from mimdesk.connectors.prometheus import PrometheusClient
from mimdesk.paths import Paths
from mimdesk.secrets import env_name, get_secret, keyring_problem
from mimdesk.settings import (
    URL_RULE,
    ChatSettings,
    Settings,
    ca_file_problem,
    chat_from_environment,
    load_settings,
    url_problem,
    without_credentials,
)
from mimdesk.store import backup, schema
from mimdesk.store.db import StoreError, quick_check
from mimdesk.store.store import Damage, Store

log = logging.getLogger(__name__)

FORMAT = "mimdesk.doctor/1"
# (connect, read) seconds for every request a check makes, and one repeat at
# once of what may pass on a second try (the clients need at least one).
TIMEOUT = (3.05, 10.0)
BACKOFF = (0.0,)
# A check still running after this is reported failed (a resolver that hangs).
DEADLINE_S = 30.0
PROMETHEUS_VARIABLE = "MIMDESK_PROMETHEUS_URL"
ALERTMANAGER_VARIABLE = "MIMDESK_ALERTMANAGER_URL"
SLACK_API = "https://slack.com/api"
NOT_RUNNING = "is it running there, and are the host and port right?"

SecretLookup = Callable[[str], tuple[str | None, str]]


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One check's outcome; `message` says what was found, or what failed and
    what to do about it."""

    name: str
    status: Status
    message: str
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


def ok(name: str, message: str) -> Check:
    return Check(name, Status.OK, message)


def failed(name: str, message: str) -> Check:
    return Check(name, Status.FAILED, message)


def skipped(name: str, message: str) -> Check:
    return Check(name, Status.SKIPPED, message)


# --- this machine ---------------------------------------------------------------


def check_settings(config_file: Path) -> Check:
    """The settings file reads without problems (a missing one is the defaults)."""
    if not config_file.exists():
        return skipped(
            "settings",
            f"no settings file at {config_file}: the defaults are used (the "
            "console's View → Connections… writes one)",
        )
    problems = load_settings(config_file).problems
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return failed("settings", f"{problems[0]}{more}; fix the file and run again")
    return ok("settings", f"{config_file} reads without problems")


def check_store(paths: Paths) -> Check:
    """The store passes SQLite's quick_check and its journal's hash chain holds.
    Read only: the check never creates, migrates or locks the store."""
    path = paths.store
    if path.parent.exists() and not path.parent.is_dir():
        return failed(
            "store",
            f"{path.parent} is a file, not a folder: point --data-dir or "
            "MIMDESK_DATA_DIR at a folder",
        )
    if not path.exists():
        return skipped("store", f"no store yet at {path} (it is created on first use)")
    problems = quick_check(path)
    if problems:
        damage = Damage(path, tuple(problems), backup.latest_backup(paths.backups))
        return failed("store", damage.explain())
    version = _schema_version(path)
    if version > schema.LATEST:
        return failed(
            "store",
            f"{path} was written by a newer MIMDesk (schema {version}, this one "
            f"knows up to {schema.LATEST}); upgrade MIMDesk to open it",
        )
    store = Store(path, read_only=True)
    try:
        broken = store.verify()
        count = store.event_count()
    finally:
        store.close()
    if broken:
        return failed(
            "store",
            f"{path}: the journal has {len(broken)} problem(s), the first: "
            f"{broken[0].message}. `mimdesk journal verify` lists them all; restore "
            "a backup with `mimdesk store restore BACKUP`",
        )
    if not os.access(path.parent, os.W_OK):
        return failed(
            "store",
            f"{path} reads fine but its folder is read-only, so nothing can be "
            "recorded; fix the permissions or use --data-dir",
        )
    return ok("store", f"{path} is sound; journal: {count} events, chain intact")


def _schema_version(path: Path) -> int:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_logs(log_dir: Path) -> Check:
    """A file can be created, written and removed in the log folder."""
    probe = log_dir / f".doctor-{uuid.uuid4().hex}"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text("probe\n", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        return failed(
            "logs",
            f"cannot write in the log folder {log_dir}: {exc.strerror or exc}; "
            "fix its permissions or free some space (with --data-dir the logs go "
            "to DATA_DIR/logs)",
        )
    return ok("logs", f"{log_dir} is writable")


def check_keyring(environ: Mapping[str, str]) -> Check:
    """A system keyring can keep secrets; without one, secrets must come from
    MIMDESK_SECRET_* variables (fine on a kiosk that sets them)."""
    banner = keyring_problem()
    if not banner:
        return ok("keyring", "the system keyring can store secrets")
    given = sorted(k for k in environ if k.startswith("MIMDESK_SECRET_"))
    if given:
        return ok(
            "keyring",
            f"{banner}; secrets come from the environment for each run "
            f"({', '.join(given)})",
        )
    return failed(
        "keyring",
        f"{banner}: no token or password can be kept. Install and unlock a "
        "keyring (GNOME Keyring, KWallet), or pass secrets as MIMDESK_SECRET_* "
        f"variables, e.g. {env_name('matrix.token')}",
    )


# --- monitoring -----------------------------------------------------------------


def _server_auth(
    section: str, config: Any, secret: SecretLookup
) -> tuple[Auth | None, str]:
    """The credentials for a [prometheus] or [alertmanager] server, or why not."""
    if config.auth == "none":
        return None, ""
    value, problem = secret(section)
    if problem or not value:
        return None, (
            f"[{section}] auth is {config.auth!r} but no secret could be read "
            f"({problem or f'none is stored under {section!r}'}); store one with "
            f"`mimdesk secret set {section}` or set {env_name(section)}"
        )
    if config.auth == "bearer":
        return Auth(token=value), ""
    return Auth(username=config.username or None, password=value), ""


def _address(
    section: str, url: str, variable: str, from_env: bool, ca_file: Path | None
) -> str:
    """Why the server's address cannot be asked at all; empty when it can."""
    where = variable if from_env else f"[{section}] url"
    if url_problem(url):
        return f"{where} {URL_RULE}, not {without_credentials(url)!r}"
    if ca_file is not None and url.lower().startswith("https:"):
        problem = ca_file_problem(ca_file)
        if problem:
            return f"[{section}] ca_file: {problem}; fix the path or remove the line"
    return ""


def _connector_failure(exc: ConnectorError) -> str:
    if isinstance(exc, Unreachable) and "did not answer" not in exc.message:
        return f"{exc.message}; {NOT_RUNNING}"
    return exc.message


def check_prometheus(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    secret: SecretLookup = get_secret,
) -> Check:
    """Prometheus answers a query (`up`): the server the wall reads."""
    from_env = environ.get(PROMETHEUS_VARIABLE, "").strip()
    url = from_env or settings.prometheus.url
    if not url:
        return skipped(
            "prometheus",
            f"not set up: set [prometheus] url in the settings or "
            f"{PROMETHEUS_VARIABLE} (until then the wall shows DEMO data)",
        )
    config = settings.prometheus
    problem = _address(
        "prometheus", url, PROMETHEUS_VARIABLE, bool(from_env), config.ca_file
    )
    auth, auth_problem = _server_auth("prometheus", config, secret)
    if problem or auth_problem:
        return failed("prometheus", problem or auth_problem)
    ca = str(config.ca_file) if config.ca_file else None
    client = PrometheusClient(
        url, auth=auth, ca_file=ca, timeout=TIMEOUT, backoff=BACKOFF
    )
    try:
        result = client.query("up")
    except ConnectorError as exc:
        return failed("prometheus", _connector_failure(exc))
    finally:
        client.close()
    values = [s.values[-1] for s in result.series if s.values]
    shown = without_credentials(url)
    if not values:
        return ok("prometheus", f"{shown} answers queries, but scrapes no targets")
    up = sum(1 for v in values if v == 1)
    return ok(
        "prometheus", f"{shown} answers queries; {up} of {len(values)} targets up"
    )


def check_alertmanager(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    secret: SecretLookup = get_secret,
) -> Check:
    """Alertmanager answers /api/v2/status: the server alerts are polled from."""
    from_env = environ.get(ALERTMANAGER_VARIABLE, "").strip()
    url = from_env or settings.alertmanager.url
    if not url:
        return skipped(
            "alertmanager",
            f"not set up: set [alertmanager] url in the settings or "
            f"{ALERTMANAGER_VARIABLE} to poll its alerts",
        )
    config = settings.alertmanager
    problem = _address(
        "alertmanager", url, ALERTMANAGER_VARIABLE, bool(from_env), config.ca_file
    )
    auth, auth_problem = _server_auth("alertmanager", config, secret)
    if problem or auth_problem:
        return failed("alertmanager", problem or auth_problem)
    ca = str(config.ca_file) if config.ca_file else None
    client = AlertmanagerClient(
        url, auth=auth, ca_file=ca, timeout=TIMEOUT, backoff=BACKOFF
    )
    try:
        status = client.status()
    except ConnectorError as exc:
        return failed("alertmanager", _connector_failure(exc))
    finally:
        client.close()
    cluster = f"cluster {status.cluster}" if status.cluster else "no cluster"
    version = f" {status.version}" if status.version else ""
    return ok(
        "alertmanager",
        f"Alertmanager{version} at {without_credentials(url)} answers "
        f"({cluster}, {status.peers} peer(s))",
    )


# --- chat -----------------------------------------------------------------------


def check_matrix(chat: ChatSettings, *, secret: SecretLookup = get_secret) -> Check:
    """The homeserver accepts the access token (whoami), or the password (a
    login whose session is ended again at once)."""
    from mimdesk.connectors.matrix import MatrixClient

    if not chat.matrix_url:
        return skipped("matrix", "not set up ([matrix] url in the settings)")
    token, problem = secret("matrix.token")
    password = None
    if not token:
        password, problem = secret("matrix.password")
    if not token and not (password and chat.matrix_user):
        why = f" ({problem})" if problem else ""
        return failed(
            "matrix",
            f"no credentials{why}: store an access token with `mimdesk secret set "
            "matrix.token`, or a user ([matrix] user) and a password "
            "(`mimdesk secret set matrix.password`)",
        )
    ca = str(chat.matrix_ca_file) if chat.matrix_ca_file else None
    shown = without_credentials(chat.matrix_url)
    client = MatrixClient(
        chat.matrix_url, access_token=token, user_id=chat.matrix_user or None,
        password=password, ca_file=ca, timeout=TIMEOUT,
    )  # fmt: skip
    try:
        if token:
            user = client.whoami()
            return ok("matrix", f"{shown} accepts the token of {user}")
        client.login()
        _matrix_logout(client, ca)
        return ok("matrix", f"{shown} accepts the password of {client.user_id}")
    except ConnectorError as exc:
        return failed("matrix", _connector_failure(exc))
    finally:
        client.close()


def _matrix_logout(client: Any, ca_file: str | None) -> None:
    """End the session a password check opened, so no device is left behind.

    FIXME(matrix): MatrixClient has no logout, so this is a request of its own;
    a `logout()` on the client would keep Matrix's errors in one place."""
    import requests

    try:
        requests.post(
            f"{client.base_url}/_matrix/client/v3/logout",
            headers={"Authorization": f"Bearer {client.access_token}"},
            json={},
            timeout=TIMEOUT,
            verify=ca_file or True,
        )
    except requests.RequestException as exc:
        log.warning("doctor: the Matrix test session could not be ended: %s", exc)


def check_slack(chat: ChatSettings, *, secret: SecretLookup = get_secret) -> Check:
    """Slack accepts the bot token (auth.test); a webhook is checked for its
    shape only, since the only way to test one is to post."""
    from mimdesk.connectors.slack import SlackClient

    token, problem = secret("slack.token")
    webhook = None if token else secret("slack.webhook")[0]
    if not token and not webhook:
        return skipped("slack", _no_secret(("slack.token", "slack.webhook"), problem))
    if webhook:
        return _slack_webhook(webhook)
    api = chat.slack_api_url or SLACK_API
    ca = str(chat.slack_ca_file) if chat.slack_ca_file else None
    client = SlackClient(token, api_url=api, ca_file=ca, timeout=TIMEOUT)
    try:
        # FIXME(slack): auth.test is reached through the client's private
        # `_whoami`; a public `whoami()` on SlackClient would make it a contract.
        client._whoami()
    except ConnectorError as exc:
        if isinstance(exc, AuthFailed):
            return failed("slack", f"{exc.message}; store a new bot token with "
                          "`mimdesk secret set slack.token`")  # fmt: skip
        return failed("slack", _connector_failure(exc))
    finally:
        client.close()
    return ok("slack", f"{api} accepts the bot token (app user {client.user_id})")


def _no_secret(keys: tuple[str, ...], problem: str) -> str:
    """Why a platform set up by its secret alone counts as not set up."""
    names = " or ".join(repr(k) for k in keys)
    if problem:  # no keyring to look in: only the environment could say
        variables = " or ".join(env_name(k) for k in keys)
        return f"not set up: no keyring to read {names} from, and {variables} is unset"
    return f"not set up: no {names} secret stored"


def _slack_webhook(url: str) -> Check:
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme != "https" or not host:
        return failed(
            "slack",
            "the 'slack.webhook' secret is not an https:// URL: copy the incoming "
            "webhook URL from the Slack app's settings again",
        )
    return ok(
        "slack",
        f"incoming webhook at {host} looks right (not posted to: a webhook can "
        "only be tested by posting; store a bot token to check it here)",
    )


def check_teams(chat: ChatSettings, *, secret: SecretLookup = get_secret) -> Check:
    """The Workflows webhook URL has the right shape. Nothing is posted: a
    test would show up in the channel."""
    from mimdesk.connectors.teams import check_url

    webhook, problem = secret("teams.webhook")
    if not webhook:
        return skipped("teams", _no_secret(("teams.webhook",), problem))
    try:
        host = check_url(webhook)
    except ConnectorError as exc:
        return failed("teams", exc.message)
    return ok(
        "teams", f"Workflows webhook at {host} looks right (not posted to: a "
        "test would appear in the channel)",
    )  # fmt: skip


def check_email(chat: ChatSettings, *, secret: SecretLookup = get_secret) -> Check:
    """The SMTP server for stakeholder updates takes a connection, TLS as set,
    and the login. Nothing is sent."""
    from mimdesk.connectors.email import SmtpMailer

    if not chat.smtp_host:
        return skipped("email", "not set up ([smtp] host in the settings)")
    password = None
    if chat.smtp_user:
        password, problem = secret("smtp.password")
        if not password:
            why = f" ({problem})" if problem else ""
            return failed(
                "email",
                f"no password for {chat.smtp_user}{why}: `mimdesk secret set "
                "smtp.password`, or MIMDESK_SECRET_SMTP_PASSWORD",
            )
    try:
        mailer = SmtpMailer(
            chat.smtp_host, sender=chat.smtp_from or "doctor@mimdesk.invalid",
            port=chat.smtp_port, security=chat.smtp_security,
            user=chat.smtp_user or None, password=password,
            ca_file=str(chat.smtp_ca_file) if chat.smtp_ca_file else None,
            timeout=TIMEOUT[1],
        )  # fmt: skip
        said = mailer.test()
    except ConnectorError as exc:
        return failed("email", exc.message)
    if not chat.smtp_from:
        return failed("email", f"{said}, but [smtp] from is not set")
    return ok("email", f"{said} (nothing sent)")


# --- all of them ----------------------------------------------------------------


def checks_for(
    paths: Paths,
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    secret: SecretLookup = get_secret,
) -> list[tuple[str, Callable[[], Check]]]:
    """Every check, by name, ready to run."""
    env = os.environ if environ is None else environ
    chat, problems = chat_from_environment(settings.chat, env)
    for problem in problems:
        log.warning("%s", problem)
    wrong: list[tuple[str, Callable[[], Check]]] = []
    if problems:
        said = "; ".join(problems)
        wrong = [("environment", lambda: failed("environment", said))]
    return [
        *wrong,
        ("settings", lambda: check_settings(paths.config_file)),
        ("store", lambda: check_store(paths)),
        ("logs", lambda: check_logs(paths.log_dir)),
        ("keyring", lambda: check_keyring(env)),
        ("prometheus", lambda: check_prometheus(settings, environ=env, secret=secret)),
        (
            "alertmanager",
            lambda: check_alertmanager(settings, environ=env, secret=secret),
        ),
        ("matrix", lambda: check_matrix(chat, secret=secret)),
        ("slack", lambda: check_slack(chat, secret=secret)),
        ("teams", lambda: check_teams(chat, secret=secret)),
        ("email", lambda: check_email(chat, secret=secret)),
    ]


def timed(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; whatever it raises becomes its failure, not a crash."""
    started = time.monotonic()
    try:
        result = check()
    except (StoreError, sqlite3.Error, OSError) as exc:
        result = failed(name, f"{exc}")
    except Exception as exc:  # one broken check must not hide the rest
        log.exception("doctor: the %s check failed unexpectedly", name)
        result = failed(name, f"the check itself failed: {type(exc).__name__}: {exc}")
    return replace(result, seconds=time.monotonic() - started)


def run(
    named: list[tuple[str, Callable[[], Check]]], *, deadline_s: float = DEADLINE_S
) -> list[Check]:
    """Run the checks side by side, each on its own thread; one still running
    at the deadline is reported failed (its thread is left to end alone)."""
    results: dict[str, Check] = {}
    threads = []
    for name, check in named:

        def work(name: str = name, check: Callable[[], Check] = check) -> None:
            results[name] = timed(name, check)

        thread = threading.Thread(target=work, name=f"doctor-{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    end = time.monotonic() + deadline_s
    for _name, thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return [
        results.get(name)
        or Check(
            name,
            Status.FAILED,
            f"no answer within {deadline_s:g} s (a name that does not resolve, "
            "or a network that drops packets); check the address and the network",
            deadline_s,
        )
        for name, _thread in threads
    ]


def passed(results: list[Check]) -> bool:
    return not any(r.status is Status.FAILED for r in results)
