"""A real Synapse homeserver on loopback for the Matrix integration tests.

Synapse runs from its own virtual environment, made by scripts/synapse-venv.sh
in $MIMDESK_SYNAPSE_VENV (default /opt/mimdesk-synapse). Its configuration,
signing key and shared registration secret are generated at test time in a
temporary folder. Under CI a missing Synapse fails the test; elsewhere it skips.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from .servers import free_port

DEFAULT_VENV = "/opt/mimdesk-synapse"
SERVER_NAME = "localhost"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0

# Far above anything a test does: the defaults throttle a burst of sends, and
# logins per address (every test comes from 127.0.0.1) after about five.
_PLENTY = {"per_second": 1000, "burst_count": 1000}
RELAXED_LIMITS: dict[str, Any] = {
    "rc_message": _PLENTY,
    "rc_registration": _PLENTY,
    "rc_login": {"address": _PLENTY, "account": _PLENTY, "failed_attempts": _PLENTY},
    "rc_joins": {"local": _PLENTY, "remote": _PLENTY},
    "rc_joins_per_room": _PLENTY,
    "rc_invites": {"per_room": _PLENTY, "per_user": _PLENTY, "per_issuer": _PLENTY},
    "rc_room_creation": _PLENTY,
}


def synapse_python() -> Path:
    """The Python of the Synapse environment; missing is a failure under CI,
    else a skip (as for the other servers, see servers.binary)."""
    venv = Path(os.environ.get("MIMDESK_SYNAPSE_VENV") or DEFAULT_VENV)
    python = venv / "bin" / "python"
    if python.exists():
        return python
    text = f"Synapse is not installed in {venv} (run scripts/synapse-venv.sh)"
    if os.environ.get("CI"):
        pytest.fail(text)
    pytest.skip(text)


@dataclass(frozen=True)
class Account:
    """A registered user and the session registration gave it."""

    user_id: str
    password: str
    access_token: str
    device_id: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


@dataclass
class Synapse:
    """A Synapse on a fixed loopback port; stop() and start() keep its port
    and its data, as a restarted homeserver would."""

    folder: Path
    python: Path
    port: int
    secret: str
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "synapse.out"

    def start(self) -> None:
        command = [str(self.python), "-m", "synapse.app.homeserver"]
        for config in ("homeserver.yaml", "test.yaml"):
            command += ["--config-path", str(self.folder / config)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder
            )
        self._wait_ready()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def register(self, prefix: str = "user") -> Account:
        """A new user with a random password, through the shared-secret admin
        API (what register_new_matrix_user does, without its rate limits)."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        url = self.url + "/_synapse/admin/v1/register"
        nonce = requests.get(url, timeout=10).json()["nonce"]
        signed = b"\x00".join(
            part.encode() for part in (nonce, name, password, "notadmin")
        )
        mac = hmac.new(self.secret.encode(), signed, hashlib.sha1).hexdigest()
        body = {"nonce": nonce, "username": name, "password": password}
        answer = requests.post(
            url, json={**body, "admin": False, "mac": mac}, timeout=10
        )
        answer.raise_for_status()
        made = answer.json()
        return Account(
            made["user_id"], password, made["access_token"], made["device_id"]
        )

    def _wait_ready(self) -> None:
        url = self.url + "/_matrix/client/versions"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited: {self._tail()}")
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse did not become ready: {self._tail()}")

    def _tail(self) -> str:
        texts = []
        for log in (self.log, self.folder / "homeserver.log"):
            if log.exists():
                texts.append(log.read_text(errors="replace")[-2000:])
        return "\n".join(texts)


def homeserver(folder: Path, *, relaxed: bool = True) -> Synapse:
    """A configured, not yet started, Synapse in `folder`: SQLite, no TLS, no
    federation keys fetched, one client listener on a free loopback port; with
    `relaxed`, rate limits no test reaches, else Synapse's own defaults."""
    python = synapse_python()
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(python), "-m", "synapse.app.homeserver",
            "--server-name", SERVER_NAME,
            "--config-path", str(folder / "homeserver.yaml"),
            "--data-directory", str(folder / "data"),
            "--generate-config", "--report-stats=no",
        ],
        cwd=folder, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    server = Synapse(folder, python, free_port(), secrets.token_urlsafe(32))
    overrides: dict[str, Any] = {
        "listeners": [
            {
                "port": server.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "registration_shared_secret": server.secret,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "enable_metrics": False,
        **(RELAXED_LIMITS if relaxed else {}),
    }
    # JSON is YAML; a later config file overrides the generated one's keys.
    (folder / "test.yaml").write_text(json.dumps(overrides, indent=2))
    return server
