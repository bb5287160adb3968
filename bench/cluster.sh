#!/usr/bin/env bash
# Runs the server → agent hop benchmark (bench/README.md, "Server → agent
# hop") and prints its table. It needs root: the agent runs on a test host
# (a network namespace). PADDOCK_BENCH_DURATION sets the measured time per
# cell (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_BENCH=1
export PADDOCK_BENCH_DURATION="${PADDOCK_BENCH_DURATION:-5s}"
exec go test -run TestClusterHopBenchmark -v -count=1 -timeout 20m ./bench/
