#!/usr/bin/env bash
# Runs one benchmark (after ./crm install): bench/run.sh e2e|history|segments|ledger|memory|replicas [options]
# `bench/run.sh <name> --help` lists the options. Results: bench/results/<name>-latest.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x "$ROOT/.venv/bin/python" ] || { echo "run ./crm install first" >&2; exit 2; }
name=${1:-}
case "$name" in
  e2e|history|segments|ledger|memory|replicas) shift; exec "$ROOT/.venv/bin/python" -m "bench.$name" "$@" ;;
  *) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
