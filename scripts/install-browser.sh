#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser test
# (test/e2e/console_test.go drives it headless with chromedp). Idempotent:
# when /usr/bin/chromium is already there it only prints the version.
# Needs root, or sudo, and an apt source that serves chromium.
set -euo pipefail

browser=/usr/bin/chromium

if [[ ! -x "$browser" ]]; then
	bash "$(dirname "$0")/apt-install.sh" chromium
fi

# Debian's launcher prints a harmless shell warning on some /dev/shm sizes.
"$browser" --version 2>/dev/null
