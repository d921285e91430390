#!/usr/bin/env bash
# Install the desktop entry, the AppStream metainfo and the icons, so menus,
# docks and software centres show MIMDesk with its name and icon. The entry runs
# `mimdesk`, which must be on PATH: from pip, or a link to the bundle's
# dist/mimdesk/mimdesk.
#
#   packaging/linux/install-desktop.sh [PREFIX]   (default: ~/.local)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
icons="$here/../../resources/icons"
share="${1:-$HOME/.local}/share"
app=io.github.mimdesk.MIMDesk

install -Dm644 "$here/$app.desktop" "$share/applications/$app.desktop"
install -Dm644 "$here/$app.metainfo.xml" "$share/metainfo/$app.metainfo.xml"
install -Dm644 "$icons/mimdesk.svg" "$share/icons/hicolor/scalable/apps/$app.svg"
for size in 16 32 48 64 128 256 512; do
  install -Dm644 "$icons/mimdesk-$size.png" \
    "$share/icons/hicolor/${size}x${size}/apps/$app.png"
done

# Menus pick the entry up by themselves; these only refresh the caches sooner.
if command -v update-desktop-database >/dev/null; then
  update-desktop-database -q "$share/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null; then
  gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
fi

echo "install-desktop: entry, metainfo and icons installed under $share"
command -v mimdesk >/dev/null \
  || echo "install-desktop: 'mimdesk' is not on PATH: the entry cannot start it yet"
