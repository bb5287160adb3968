#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser test
# (test/e2e/console_test.go drives it headless with chromedp). Idempotent:
# when /usr/bin/chromium is already there it only prints the version.
# Needs root, or sudo, and an apt source that serves chromium.
set -euo pipefail

browser=/usr/bin/chromium

if [[ ! -x "$browser" ]]; then
	if [[ $(id -u) -eq 0 ]]; then
		as_root=()
	elif command -v sudo >/dev/null; then
		as_root=(sudo -n)
	else
		echo "install-browser: $browser is missing and this is neither root nor has sudo" >&2
		exit 1
	fi
	echo "install-browser: installing chromium with apt-get"
	"${as_root[@]}" apt-get update -qq
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Debian's launcher prints a harmless shell warning on some /dev/shm sizes.
"$browser" --version 2>/dev/null
