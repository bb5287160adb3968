#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages as root, or through
# sudo, for the install scripts that need a tool the machine lacks
# (install-browser.sh, install-elasticmq.sh).
set -euo pipefail

if [[ $(id -u) -eq 0 ]]; then
	as_root=()
elif command -v sudo >/dev/null; then
	as_root=(sudo -n)
else
	echo "apt-install: $* missing, and this is neither root nor has sudo" >&2
	exit 1
fi
echo "apt-install: installing $* with apt-get"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
