#!/usr/bin/env bash
# Make the virtual environment the Matrix integration tests run Synapse from.
# It lives apart from the project's own .venv (Synapse brings ~240 MB of its own
# dependencies): in $MIMDESK_SYNAPSE_VENV, by default /opt/mimdesk-synapse.
# Idempotent: an environment that already runs Synapse is left as it is.
set -euo pipefail

VENV="${MIMDESK_SYNAPSE_VENV:-/opt/mimdesk-synapse}"
PYTHON="${MIMDESK_SYNAPSE_PYTHON:-python3}"
# Override to pin a release, e.g. MIMDESK_SYNAPSE_SPEC='matrix-synapse==1.163.2'.
SPEC="${MIMDESK_SYNAPSE_SPEC:-matrix-synapse}"

ready() {
  [ -x "$VENV/bin/register_new_matrix_user" ] &&
    "$VENV/bin/python" -c 'import synapse.app.homeserver' >/dev/null 2>&1
}

if ready; then
  exit 0
fi

if ! "$PYTHON" -m venv "$VENV"; then
  # Debian ships venv support (ensurepip) in a separate package.
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "synapse-venv: installing python3-venv"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    "$PYTHON" -m venv "$VENV"
  else
    echo "synapse-venv: cannot create $VENV; install python3-venv, or set" \
      "MIMDESK_SYNAPSE_VENV to a folder you can write" >&2
    exit 1
  fi
fi

echo "synapse-venv: installing $SPEC into $VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$SPEC"

ready || { echo "synapse-venv: Synapse did not install into $VENV" >&2; exit 1; }
"$VENV/bin/python" -c 'import synapse; print("synapse-venv: Synapse", synapse.__version__)'
