#!/usr/bin/env bash
# Installs moto's server (moto_server), the EC2 API the ec2 instance
# provider's test talks to (test/e2e/ec2_test.go skips without it).
# Idempotent: when moto_server is already on PATH it only says where.
# Needs python3 with pip; installs for this user (~/.local/bin must be on
# PATH afterwards).
set -euo pipefail

if command -v moto_server >/dev/null 2>&1; then
	echo "moto_server: $(command -v moto_server)"
	exit 0
fi
python3 -m pip install --user 'moto[server]'
if ! command -v moto_server >/dev/null 2>&1; then
	echo "moto installed, but moto_server is not on PATH: add $(python3 -m site --user-base)/bin to PATH" >&2
	exit 1
fi
echo "moto_server: $(command -v moto_server)"
