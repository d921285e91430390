"""What every HTTP client of ours shares: credentials and how a session is set up."""

from __future__ import annotations

from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Auth:
    """How to authenticate: a bearer token, or a user name and password."""

    token: str | None = None
    username: str | None = None
    password: str | None = None


def json_session(auth: Auth | None) -> requests.Session:
    """A session for one server's JSON API, with its credentials attached.

    TLS verification is not set here: a session-level CA file loses to
    REQUESTS_CA_BUNDLE in the environment (psf/requests#3829), so callers pass
    `verify=` with every request."""
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    if auth and auth.token:
        session.headers["Authorization"] = f"Bearer {auth.token}"
    elif auth and auth.username:
        session.auth = (auth.username, auth.password or "")
    return session
