#!/usr/bin/env bash
# Start the built bundle as a machine without Python would: an empty
# environment, an empty home, a folder away from the checkout. It must print
# its version, then draw the DEMO wall and the DEMO console offscreen; a missing
# resource, font, library or hidden import makes it fail, say so, or draw a
# near-empty picture, and this script fails.
#
#   scripts/check-bundle.sh [BUNDLE_DIR]   (default: dist/mimdesk)
set -euo pipefail
cd "$(dirname "$0")/.."

bundle=${1:-dist/mimdesk}
exe="$(cd "$bundle" 2>/dev/null && pwd)/mimdesk" || exe=""
[ -x "$exe" ] || {
  echo "check-bundle: no $bundle/mimdesk; run scripts/build-bundle.sh" >&2
  exit 1
}
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' mimdesk/__init__.py)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/home" "$work/out"

fail() {
  echo "check-bundle: $*" >&2
  exit 1
}

# Runs the bundle with nothing from this shell; anything it prints on stderr
# (a warning, a traceback, Fontconfig or Qt complaining) fails the check.
bare() {
  local code=0
  (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8 \
    QT_QPA_PLATFORM=offscreen "$exe" "$@" >"$work/stdout" 2>"$work/stderr") \
    || code=$?
  cat "$work/stdout"
  cat "$work/stderr" >&2
  [ "$code" = 0 ] || fail "'mimdesk $*' exited with $code"
  [ ! -s "$work/stderr" ] || fail "'mimdesk $*' printed the warnings above"
}

# A picture of at least `min_kb` kB and the size asked for. Text drawn as
# empty boxes (no fonts) gives a far smaller file than a readable wall.
check_png() {
  local file=$1 width=$2 height=$3 min_kb=$4 bytes found
  [ -f "$file" ] || fail "no picture at $file"
  bytes=$(stat -c %s "$file")
  [ "$bytes" -ge $((min_kb * 1024)) ] \
    || fail "$file is only $bytes bytes (expected at least $min_kb kB): missing fonts?"
  found=$(od -An -tu1 -j16 -N8 "$file" \
    | awk '{print $1*2^24 + $2*2^16 + $3*2^8 + $4 "x" $5*2^24 + $6*2^16 + $7*2^8 + $8}')
  [ "$found" = "${width}x${height}" ] || fail "$file is $found, not ${width}x${height}"
  echo "check-bundle: $(basename "$file"): ${width}x${height}, $((bytes / 1024)) kB"
}

start=$(date +%s)
shown=$(bare --version)
[ "$shown" = "mimdesk $version" ] \
  || fail "--version says '$shown', this checkout is $version (rebuild the bundle)"
echo "check-bundle: $shown"

bare screenshot --demo --view wall --size 1920x1080 --output "$work/out/wall.png"
check_png "$work/out/wall.png" 1920 1080 100

bare screenshot --demo --view console --size 1920x1080 --output "$work/out/console.png"
check_png "$work/out/console.png" 1920 1080 100

if [ -n "${BUNDLE_SHOTS:-}" ]; then
  mkdir -p "$BUNDLE_SHOTS"
  cp "$work/out/"*.png "$BUNDLE_SHOTS/"
  echo "check-bundle: pictures kept in $BUNDLE_SHOTS"
fi
echo "check-bundle: the bundle starts and draws the DEMO wall" \
  "($(($(date +%s) - start)) s)"
