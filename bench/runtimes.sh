#!/usr/bin/env bash
# Runs the runtimes benchmark (bench/README.md, "Runtimes"): the same echo
# on Go, Node.js and Python, one platform, one run. It needs the runtime
# clients (scripts/install-runtimes.sh). PADDOCK_BENCH_DURATION sets the
# measured time per cell (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_BENCH=1
export PADDOCK_BENCH_DURATION="${PADDOCK_BENCH_DURATION:-5s}"
exec go test -run TestRuntimesBenchmark -v -count=1 -timeout 20m ./bench/
