#!/usr/bin/env bash
# Runs the SQS event source mapping benchmark (bench/README.md, "SQS
# messages drained") and prints its table. It starts ElasticMQ (an
# SQS-compatible server, installed by scripts/install-elasticmq.sh) as a
# process of its own on a free loopback port for the run, and a nats-server
# for the NATS mapping rows.
# PADDOCK_BENCH_DURATION sets the measured time of the synchronous invokes
# (default 5s), PADDOCK_BENCH_SQS_MESSAGES the messages per queue (default
# 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
lib="$(bash scripts/install-elasticmq.sh | sed -n 's/^elasticmq: \([^ ]*\).*/\1/p')"
dir="$(mktemp -d)"
cat >"$dir/elasticmq.conf" <<CONF
include classpath("application.conf")
generate-node-address = true
rest-sqs { enabled = true, bind-port = 0, bind-hostname = "127.0.0.1", sqs-limits = strict }
rest-stats { enabled = false }
aws { region = "us-east-1", accountId = "000000000000" }
CONF
java -Xmx1g -Dconfig.file="$dir/elasticmq.conf" -cp "$lib/*" org.elasticmq.server.Main >"$dir/elasticmq.log" 2>&1 &
emq=$!
trap 'kill $emq 2>/dev/null; wait $emq 2>/dev/null; rm -rf "$dir"' EXIT
port=""
for _ in $(seq 300); do
	port="$(sed -n 's/.*Started SQS rest server, bind address 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/elasticmq.log")"
	[[ -n "$port" ]] && break
	kill -0 $emq 2>/dev/null || { cat "$dir/elasticmq.log" >&2; exit 1; }
	sleep 0.1
done
[[ -n "$port" ]] || { echo "ElasticMQ did not start:" >&2; cat "$dir/elasticmq.log" >&2; exit 1; }
echo "ElasticMQ (pid $emq) at http://127.0.0.1:$port"
# A nats-server process, built from the module's own dependency, for the
# NATS mapping rows.
go build -o "$dir/nats-server" github.com/nats-io/nats-server/v2
"$dir/nats-server" -js -a 127.0.0.1 -p -1 -sd "$dir/js" >"$dir/nats.log" 2>&1 &
nats=$!
trap 'kill $emq $nats 2>/dev/null; wait $emq $nats 2>/dev/null; rm -rf "$dir"' EXIT
natsport=""
for _ in $(seq 100); do
	natsport="$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/nats.log")"
	[[ -n "$natsport" ]] && break
	sleep 0.1
done
[[ -n "$natsport" ]] || { echo "nats-server did not start:" >&2; cat "$dir/nats.log" >&2; exit 1; }
echo "nats-server (pid $nats) at nats://127.0.0.1:$natsport"
export PADDOCK_BENCH_NATS_URL="nats://127.0.0.1:$natsport"
export PADDOCK_BENCH=1 PADDOCK_BENCH_SQS_ENDPOINT="http://127.0.0.1:$port"
export PADDOCK_BENCH_DURATION="${PADDOCK_BENCH_DURATION:-5s}"
# The platform's SDK reads its credentials from the environment; ElasticMQ
# accepts any.
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_SESSION_TOKEN=
go test -run TestSQSBenchmark -v -count=1 -timeout 20m ./bench/
