#!/usr/bin/env bash
# Make sure the system libraries Qt needs on Linux are present.
# As root: installs what is missing with apt-get. Otherwise: prints the exact
# apt-get line to run and fails, so nothing half-works later.
set -euo pipefail

[ "$(uname -s)" = "Linux" ] || exit 0

# Offscreen rendering, then a real X server (xcb); fonts so text is readable.
# The PyInstaller bundle carries the rest but not libgl1, libegl1,
# fontconfig-config or a font (see packaging/README.md).
PACKAGES="libglib2.0-0 libgl1 libxkbcommon0 libegl1 libfreetype6 libfontconfig1
fontconfig-config libdbus-1-3 fonts-dejavu-core libxkbcommon-x11-0 libxcb-cursor0
libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-render0
libxcb-shape0 libxcb-util1 libxcb-xkb1 ${EXTRA_DEBS:-}"

command -v dpkg-query >/dev/null 2>&1 || {
  echo "system-deps: not a Debian-like system; install Qt 6's xcb and EGL libraries yourself" >&2
  exit 0
}

missing=""
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ]; then
  echo "system-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "MIMDesk needs these system packages for Qt. Run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
