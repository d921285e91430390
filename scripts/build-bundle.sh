#!/usr/bin/env bash
# Build the one-folder bundle dist/mimdesk (packaging/mimdesk.spec) with the
# virtual environment's Python; installs PyInstaller there if it is missing.
# scripts/check-bundle.sh then starts it the way a machine without Python would.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
[ -x "$PY" ] || {
  echo "build-bundle: no $PY; run 'make $VENV/.installed' first" >&2
  exit 1
}
"$PY" -c 'import PyInstaller' 2>/dev/null \
  || "$PY" -m pip install --quiet 'pyinstaller>=6.6'

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/mimdesk.spec
echo "build-bundle: dist/mimdesk, $(du -sh dist/mimdesk | cut -f1)," \
  "built in $(($(date +%s) - start)) s"
