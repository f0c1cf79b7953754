#!/usr/bin/env bash
# The browser tests (tests/browser) drive a real headless Chromium: Debian's `chromium` package,
# launched by Playwright through its executable path. Playwright never downloads a browser here.
# Run by `make test` (and so by .ci/run): installs the package when missing and root, else says
# exactly what to install.
set -euo pipefail
CHROMIUM="${TWITTERCLONE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the browser tests (apt-get install -y chromium)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] && exit 0
fi
cat >&2 <<MSG
The browser tests need Chromium at $CHROMIUM and it is not there.
Install it as root:   apt-get install -y chromium      (Debian/Ubuntu package 'chromium')
or point TWITTERCLONE_CHROMIUM at a Chromium/Chrome binary you already have.
MSG
exit 1
