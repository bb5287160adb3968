#!/usr/bin/env bash
# Build the example functions under examples/ as Lambda deployment zips for
# the provided.al2023 runtime: a static Linux binary named "bootstrap" at the
# top level of examples/NAME/NAME.zip.
#
# Usage: scripts/build-examples.sh [NAME...]   (default: every example)
# GOARCH may be set to cross-build (e.g. GOARCH=arm64); it defaults to the
# host's, which is what a self-hosted Paddock runs.
set -euo pipefail

cd "$(dirname "$0")/.."

if (($# > 0)); then
	names=("$@")
else
	names=()
	for d in examples/*/; do
		[[ -f "${d}main.go" ]] && names+=("$(basename "$d")")
	done
fi
if ((${#names[@]} == 0)); then
	echo "build-examples: no examples found under examples/" >&2
	exit 1
fi

# Build the zip writer once instead of paying "go run" per example.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/mkzip" ./scripts/mkzip

for name in "${names[@]}"; do
	dir="examples/$name"
	if [[ ! -f "$dir/main.go" ]]; then
		echo "build-examples: $dir/main.go does not exist" >&2
		exit 1
	fi
	# Static (no cgo) so it runs on any Linux image; -trimpath and -s -w
	# make it smaller and reproducible, so its CodeSha256 is stable.
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags='-s -w' -o "$dir/bootstrap" "./$dir"
	chmod 0755 "$dir/bootstrap"
	"$tmp/mkzip" "$dir/$name.zip" "$dir/bootstrap"
	echo "built $dir/$name.zip ($(wc -c <"$dir/$name.zip" | tr -d ' ') bytes)"
done
