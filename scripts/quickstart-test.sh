#!/usr/bin/env bash
# Run the README's quickstart as a test, so the documentation cannot rot.
#
# It builds paddock, starts `paddock up` in the background the way the
# README's terminal-1 command does (its key pair, the default --data-dir
# .paddock, relative to a temporary working directory) on a free loopback
# port, then runs the commands the README shows between
# <!-- quickstart:begin --> and <!-- quickstart:end --> with the AWS CLI
# (127.0.0.1:9400 replaced by the chosen address), checks the invoke's output,
# stops paddock with SIGINT (Ctrl-C) and checks that no function process of
# this run is left behind.
#
# Usage: bash scripts/quickstart-test.sh   (needs go, aws, python3)
set -euo pipefail

cd "$(dirname "$0")/.."
root="$(pwd)"

step() { printf '\n==> quickstart-test: %s\n' "$*"; }
fail() {
	printf 'quickstart-test: FAIL: %s\n' "$*" >&2
	exit 1
}

for tool in go aws python3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/paddock-quickstart.XXXXXX")"
run_dir="$tmp/run" # paddock's working directory: its data is in $run_dir/.paddock
mkdir "$run_dir"
paddock_pid="" # set while paddock may be running
paddock_sid="" # paddock's session: it and every process it starts

# run_procs prints the pids of this run's processes: those in paddock's
# session (function processes get their own process group, not their own
# session) and those whose command line names this run's directory (EEs run
# from <data-dir>/code/...).
run_procs() {
	{
		[[ -z "$paddock_sid" ]] || pgrep -s "$paddock_sid"
		pgrep -f -- "$run_dir/"
	} | sort -u
}

out_backup=""

# cleanup runs on every exit. On success paddock has already stopped; on any
# failure it kills paddock's process group and then every process of this
# run that is left, each by its pid.
cleanup() {
	local rc=$?
	set +e
	trap '' PIPE INT TERM HUP # finish cleaning up even if the reader of our output is gone
	echo
	if [[ -n "$paddock_pid" ]] && kill -0 "$paddock_pid" 2>/dev/null; then
		echo "quickstart-test: killing paddock (process group $paddock_pid)" >&2
		kill -9 -- "-$paddock_pid" 2>/dev/null
		wait "$paddock_pid" 2>/dev/null
	fi
	local left
	left="$(run_procs || true)"
	if [[ -n "$left" ]]; then
		echo "quickstart-test: killing leftover processes: $(echo $left)" >&2
		# shellcheck disable=SC2086 # one pid per word
		kill -9 $left 2>/dev/null
	fi
	if ((rc != 0)) && [[ -f "$tmp/paddock.log" ]]; then
		echo "quickstart-test: last lines of paddock's output:" >&2
		tail -n 40 "$tmp/paddock.log" >&2
	fi
	rm -f "$root/out.json"
	if [[ -n "$out_backup" ]]; then
		mv -f "$out_backup" "$root/out.json"
	fi
	rm -rf "$tmp"
	if ((rc == 0)); then
		printf 'quickstart-test: PASS\n'
	else
		printf '\nquickstart-test: FAIL (exit %d)\n' "$rc" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# block NAME prints the contents of the fenced code blocks of README.md
# between <!-- NAME:begin --> and <!-- NAME:end -->.
block() {
	awk -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
		$0 == begin { inside = 1; next }
		$0 == end { inside = 0; next }
		inside && /^```/ { fence = !fence; next }
		inside && fence { print }
	' README.md
}

step "reading the quickstart from README.md"
server_cmd="$(block quickstart:server)"
commands="$(block quickstart)"
[[ -n "$server_cmd" ]] || fail "README.md has no <!-- quickstart:server:begin/end --> block"
[[ -n "$commands" ]] || fail "README.md has no <!-- quickstart:begin/end --> block"
[[ "$server_cmd" == *"go run ./cmd/paddock up"* ]] || fail "the README's server command does not run 'go run ./cmd/paddock up': $server_cmd"
# Start paddock with the key pair the README tells the reader to use, so the
# export line in the quickstart must match it for the commands to pass.
access_key="$(sed -n 's/.*PADDOCK_ACCESS_KEY_ID=\([^ ]*\).*/\1/p' <<<"$server_cmd")"
secret_key="$(sed -n 's/.*PADDOCK_SECRET_ACCESS_KEY=\([^ ]*\).*/\1/p' <<<"$server_cmd")"
[[ -n "$access_key" && -n "$secret_key" ]] || fail "the README's server command sets no PADDOCK_ACCESS_KEY_ID/PADDOCK_SECRET_ACCESS_KEY"

step "building paddock (go build -o $tmp/paddock ./cmd/paddock)"
go build -o "$tmp/paddock" ./cmd/paddock

port="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
addr="127.0.0.1:$port"

step "starting paddock up on $addr (in $run_dir, default data dir .paddock)"
# setsid makes paddock the leader of its own session and process group, so
# its processes can be found and a failure can kill the group, and lets it
# receive SIGINT (a background job of a non-interactive shell otherwise
# starts with SIGINT ignored).
(
	cd "$run_dir"
	PADDOCK_ACCESS_KEY_ID="$access_key" PADDOCK_SECRET_ACCESS_KEY="$secret_key" \
		exec setsid "$tmp/paddock" up --listen "$addr"
) >"$tmp/paddock.log" 2>&1 &
paddock_pid=$!
paddock_sid=$paddock_pid

step "waiting for $addr to answer"
deadline=$((SECONDS + 60))
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
	kill -0 "$paddock_pid" 2>/dev/null || fail "paddock exited before it listened"
	((SECONDS < deadline)) || fail "paddock did not listen on $addr within 60s"
	sleep 0.1
done
# The port takes connections from the moment it is bound, a little before
# Start returns and the banner is printed.
until grep -q "Paddock is up" "$tmp/paddock.log"; do
	kill -0 "$paddock_pid" 2>/dev/null || fail "paddock exited before it printed its banner"
	((SECONDS < deadline)) || fail "paddock did not print its banner within 60s"
	sleep 0.1
done
sed 's/^/    paddock: /' "$tmp/paddock.log"
# The banner names the key id the reader gave, and never the secret: a
# secret it did not generate is not Paddock's to print.
grep -q "export AWS_ACCESS_KEY_ID=$access_key " "$tmp/paddock.log" ||
	fail "paddock did not print the export line for the configured key id"
if grep -qF -- "$secret_key" "$tmp/paddock.log"; then
	fail "paddock printed the secret access key it was given"
fi

step "running the README quickstart commands against $addr (each is echoed before it runs)"
if [[ -e "$root/out.json" ]]; then
	out_backup="$tmp/out.json.orig"
	mv "$root/out.json" "$out_backup"
fi
{
	echo 'set -euo pipefail'
	echo 'set -v'
	printf '%s\n' "${commands//127.0.0.1:9400/$addr}"
} >"$tmp/quickstart.sh"
# A clean environment for the CLI: no profile, config file or credentials of
# the machine's user may stand in for the README's export line.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
	-u AWS_DEFAULT_PROFILE -u AWS_DEFAULT_REGION -u AWS_REGION \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= \
	bash "$tmp/quickstart.sh" || fail "a quickstart command failed"

step "checking out.json"
[[ -f out.json ]] || fail "the invoke wrote no out.json"
got="$(cat out.json)"
[[ "$got" == '{"msg":"hi"}' ]] || fail "out.json is $got, want {\"msg\":\"hi\"}"
echo "out.json is $got"

step "function processes of this run"
pgrep -a -s "$paddock_sid" bootstrap || fail "no bootstrap process runs in paddock's session while the version is Active"

step "stopping paddock with SIGINT (Ctrl-C)"
kill -INT "$paddock_pid"
deadline=$((SECONDS + 30))
while kill -0 "$paddock_pid" 2>/dev/null; do
	((SECONDS < deadline)) || fail "paddock did not exit within 30s of SIGINT"
	sleep 0.1
done
rc=0
wait "$paddock_pid" || rc=$?
paddock_pid=""
tail -n 3 "$tmp/paddock.log" | sed 's/^/    paddock: /'
((rc == 0)) || fail "paddock exited with status $rc after SIGINT"
echo "paddock exited with status 0"

step "checking that no function process of this run is left"
left="$(run_procs || true)"
if [[ -n "$left" ]]; then
	# shellcheck disable=SC2086 # one pid per word
	fail "processes left after paddock stopped: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)")"
fi
echo "none left"
