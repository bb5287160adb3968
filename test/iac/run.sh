#!/usr/bin/env bash
# Apply test/iac/main.tf to a fresh Paddock with OpenTofu and the hashicorp
# AWS provider, then plan (must show no changes), destroy, and check with
# the AWS CLI that nothing is left. See README.md.
#
#   TOFU=/work/iac-bin/tofu PROVIDER_DIR=/work/iac-bin bash test/iac/run.sh
#
# TOFU: the tofu binary; PROVIDER_DIR: the directory holding the
# terraform-provider-aws binary (used through dev_overrides, so nothing is
# downloaded). Debug logs (TF_LOG=DEBUG, with the provider's HTTP
# exchanges) and Paddock's log go to test/iac/logs/.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
TOFU="${TOFU:-/work/iac-bin/tofu}"
PROVIDER_DIR="${PROVIDER_DIR:-/work/iac-bin}"
logs="$here/logs"
mkdir -p "$logs"

step() { printf '\n=== %s: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { echo "run.sh: $*" >&2; exit 1; }

[[ -x "$TOFU" ]] || die "no tofu binary at $TOFU (set TOFU)"
ls "$PROVIDER_DIR"/terraform-provider-aws* >/dev/null 2>&1 || die "no terraform-provider-aws in $PROVIDER_DIR (set PROVIDER_DIR)"

tmp="$(mktemp -d)"
paddock_pid=""
cleanup() {
	if [[ -n "$paddock_pid" ]] && kill -0 "$paddock_pid" 2>/dev/null; then
		step "stopping paddock (pid $paddock_pid)"
		kill -TERM "$paddock_pid"
		for _ in $(seq 1 100); do kill -0 "$paddock_pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$paddock_pid" 2>/dev/null && kill -KILL "$paddock_pid"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

export GOFLAGS="${GOFLAGS:--p=1}"

step "building the examples and paddock"
(cd "$root" && nice -n 19 bash scripts/build-examples.sh echo) || die "build-examples failed"
(cd "$root" && nice -n 19 go build -o "$tmp/paddock" ./cmd/paddock) || die "building paddock failed"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
export PADDOCK_ACCESS_KEY_ID=AKIDPADDOCKIAC
export PADDOCK_SECRET_ACCESS_KEY=paddock-iac-test-secret

step "starting paddock up on $endpoint (data dir $tmp/data)"
"$tmp/paddock" up --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$logs/paddock.log" 2>&1 &
paddock_pid=$!
for _ in $(seq 1 150); do
	grep -q 'Paddock is up' "$logs/paddock.log" 2>/dev/null && break
	kill -0 "$paddock_pid" 2>/dev/null || { cat "$logs/paddock.log"; die "paddock exited"; }
	sleep 0.2
done
grep -q 'Paddock is up' "$logs/paddock.log" || die "paddock did not come up"
head -1 "$logs/paddock.log"

# dev_overrides: OpenTofu uses the provider binary in PROVIDER_DIR for
# hashicorp/aws and needs no "tofu init" (it warns that overrides are in
# effect); direct {} would serve any other provider, there is none.
cat >"$tmp/tofurc" <<RC
provider_installation {
  dev_overrides {
    "hashicorp/aws" = "$PROVIDER_DIR"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$tmp/tofurc"
export TF_IN_AUTOMATION=1
export TF_INPUT=0
export TF_LOG=DEBUG
# The working directory (state, .terraform) is a temporary copy, so the
# repository gets no state files.
work="$tmp/work"
mkdir -p "$work"
cp "$here/main.tf" "$work/"
export TF_VAR_endpoint="$endpoint"
export TF_VAR_access_key="$PADDOCK_ACCESS_KEY_ID"
export TF_VAR_secret_key="$PADDOCK_SECRET_ACCESS_KEY"
export TF_VAR_zip_path="$root/examples/echo/echo.zip"

TF_LOG= "$TOFU" version

declare -A result
run_tofu() { # name, args...
	local name="$1"; shift
	step "tofu $*"
	: >"$logs/$name.log" # TF_LOG_PATH appends; one run per file
	TF_LOG_PATH="$logs/$name.log" "$TOFU" -chdir="$work" "$@" -no-color
	local rc=$?
	echo "--- tofu $name exit status $rc"
	return $rc
}

run_tofu apply apply -auto-approve
rc=$?; result[apply]=$([[ $rc == 0 ]] && echo PASS || echo "FAIL (exit $rc)")

run_tofu plan plan -detailed-exitcode
rc=$?
case $rc in
0) result[plan]="PASS (no changes)" ;;
2) result[plan]="FAIL (exit 2: changes planned after apply)" ;;
*) result[plan]="FAIL (exit $rc)" ;;
esac

run_tofu destroy destroy -auto-approve
rc=$?; result[destroy]=$([[ $rc == 0 ]] && echo PASS || echo "FAIL (exit $rc)")

step "checking with the AWS CLI that nothing is left"
export AWS_ACCESS_KEY_ID="$PADDOCK_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$PADDOCK_SECRET_ACCESS_KEY" AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE
fns="$(aws --endpoint-url "$endpoint" lambda list-functions --query 'length(Functions)' --output text 2>&1)"
cps="$(aws --endpoint-url "$endpoint" lambda list-capacity-providers --query 'length(CapacityProviders)' --output text 2>&1)"
echo "functions left: $fns; capacity providers left: $cps"
if [[ "$fns" == 0 && "$cps" == 0 ]]; then
	result[empty]=PASS
else
	result[empty]="FAIL (functions: $fns, capacity providers: $cps)"
	aws --endpoint-url "$endpoint" lambda list-functions --query 'Functions[].FunctionName' --output text 2>&1
	aws --endpoint-url "$endpoint" lambda list-capacity-providers --query 'CapacityProviders[].CapacityProviderArn' --output text 2>&1
fi

step "Lambda API calls the provider made (from the debug logs)"
python3 "$here/exchanges.py" "$logs/apply.log" "$logs/plan.log" "$logs/destroy.log" | sed "s#$logs/##"

step "summary"
status=0
for k in apply plan destroy empty; do
	printf '  %-8s %s\n' "$k" "${result[$k]}"
	[[ "${result[$k]}" == PASS* ]] || status=1
done
exit $status
