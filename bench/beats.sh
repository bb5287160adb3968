#!/usr/bin/env bash
# Runs the heartbeat benchmark (bench/README.md, "Heartbeats") and prints its
# table. PADDOCK_BENCH_DURATION sets the measured window per cell (default
# 10s), PADDOCK_BENCH_ROUNDS the interleaved rounds (default 2),
# PADDOCK_BENCH_PROFILE a file for the server's CPU profile of the first
# 1000-agent window.
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_BENCH=1
exec go test -run TestBeatsBenchmark -v -count=1 -timeout 30m ./bench/
