#!/usr/bin/env bash
# Runs the asynchronous invoke benchmark (bench/README.md, "Asynchronous
# invokes") and prints its table. PADDOCK_BENCH_DURATION sets the measured
# time per cell (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_BENCH=1
export PADDOCK_BENCH_DURATION="${PADDOCK_BENCH_DURATION:-5s}"
exec go test -run TestAsyncBenchmark -v -count=1 -timeout 20m ./bench/
