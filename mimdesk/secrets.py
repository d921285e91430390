"""Secrets (tokens, passwords) from the system keyring, never from files.

Where no keyring works (a kiosk with no desktop session), secrets come from the
environment for this run only, and the caller is told so it can say it on screen.
"""

from __future__ import annotations

import logging
import os
import re

import keyring
import keyring.errors

log = logging.getLogger(__name__)

SERVICE = "mimdesk"


def env_name(key: str) -> str:
    """The environment variable that may carry a secret: MIMDESK_SECRET_<KEY>."""
    return "MIMDESK_SECRET_" + re.sub(r"[^A-Z0-9]+", "_", key.upper()).strip("_")


def get_secret(key: str) -> tuple[str | None, str]:
    """The secret stored under `key`, and a problem to show (empty when none).

    The environment wins, so a kiosk can run without a keyring."""
    from_env = os.environ.get(env_name(key))
    if from_env:
        return from_env, ""
    try:
        return keyring.get_password(SERVICE, key), ""
    except keyring.errors.KeyringError as exc:
        log.debug("no usable system keyring for %s: %s", key, exc)
        return None, (
            f"no system keyring ({type(exc).__name__}): secrets cannot be stored; "
            f"set {env_name(key)} for this run"
        )


def set_secret(key: str, value: str) -> str:
    """Store a secret; returns a problem to show, or empty on success."""
    try:
        keyring.set_password(SERVICE, key, value)
        return ""
    except keyring.errors.KeyringError as exc:
        log.warning("cannot store a secret in the keyring: %s", exc)
        return f"no system keyring: secret not stored (set {env_name(key)} instead)"


NO_KEYRING = "no system keyring - secrets not persisted"


def keyring_problem() -> str:
    """The banner to show when no keyring can keep secrets on this machine
    (a kiosk with no desktop session); empty when one can."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken backend must not stop the app
        log.warning("the keyring backend could not be loaded: %s", exc)
        return NO_KEYRING
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return NO_KEYRING
    return ""


def delete_secret(key: str) -> str:
    """Remove a stored secret; returns a problem to show, or empty on success."""
    try:
        keyring.delete_password(SERVICE, key)
        return ""
    except keyring.errors.PasswordDeleteError:
        return f"no secret is stored under {key!r}"
    except keyring.errors.KeyringError as exc:
        log.warning("cannot delete a secret from the keyring: %s", exc)
        return f"no system keyring: nothing to delete ({type(exc).__name__})"
