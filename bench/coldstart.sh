#!/usr/bin/env bash
# Cold and warm start latency of Lambda's default mode against a bare
# process start of the same binary. PADDOCK_BENCH_COLD sets the number of
# cold starts (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
PADDOCK_BENCH=1 go test -run TestColdStartBenchmark -v -count=1 -timeout 20m ./bench/ | grep -v '^=== RUN\|^--- \|^PASS\|^ok\|level=INFO\|INFO'
