#!/usr/bin/env bash
# Fuzzes the mock control plane's API from its own OpenAPI description
# (`/openapi.json`) with schemathesis: every operation, in every phase
# (examples, coverage, fuzzing, stateful), signed as a registered device by
# server-mock/tests/api-fuzz/hooks.py. It fails on any 5xx, any answer the
# description does not allow (status, content type, headers, body), and any
# mutating route that takes a call without its Idempotency-Key.
#
#   scripts/fuzz-api.sh                    # the test command's run
#   MAX_EXAMPLES=200 SEED=7 scripts/fuzz-api.sh
#
# Not checked: `positive_data_acceptance` (a signature, a session, a known
# id cannot be said in a schema, so valid-looking data is refused on
# purpose) and `negative_data_rejection` (serde also reads a struct from a
# JSON array of its fields, which the schema does not describe). Not fuzzed:
# `POST /admin/faults`, whose whole point is to make the calls after it fail.
#
# Installs schemathesis into a virtualenv in the cache folder the first
# time. Prints the number of test cases on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${MAX_EXAMPLES:-20}"
SEED="${SEED:-20261206}"
SCHEMATHESIS_VERSION=4.32.5
CACHE_DIR="${EDGEPOINTS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgepoints}"
venv="$CACHE_DIR/schemathesis-$SCHEMATHESIS_VERSION"

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/python" -c 'import blake3, cryptography' 2>/dev/null; then
  echo "[fuzz] installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" "cryptography==46.0.3" "blake3==1.0.5" >&2
fi

cargo build -q --locked -p edgepoints-mock-server
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
logs="$target_dir/api-fuzz"
. scripts/lib/mock-server.sh
start_mock_server "$target_dir/debug/edgepoints-mock-server" "$logs"
echo "[fuzz] mock control plane at $MOCK_URL; $MAX_EXAMPLES examples per operation, seed $SEED" >&2

report="$logs/schemathesis.txt"
status=0
(
  cd server-mock/tests/api-fuzz
  EDGEPOINTS_FUZZ_URL="$MOCK_URL" SCHEMATHESIS_HOOKS=hooks PYTHONPATH=. \
    "$venv/bin/schemathesis" run "$MOCK_URL/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance,negative_data_rejection \
    --exclude-operation-id add_fault \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --no-color
) >"$report" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$report"
fi
if grep -q "panicked" "$logs/mock-server.err" "$logs/mock-server.log" 2>/dev/null; then
  echo "[fuzz] the mock panicked:" >&2
  grep -A3 "panicked" "$logs/mock-server.err" "$logs/mock-server.log" >&2 || true
  status=1
fi
grep -E "^Failures:|^Errors:|generated," "$report" >&2 || true
# The signing hook must have got through: some device routes answered 2xx.
signed_ok="$(curl -fsS "$MOCK_URL/metrics" | python3 -c '
import re, sys
total = 0
for line in sys.stdin:
    m = re.match(r"edgepoints_mock_requests_total\{route=\"(\w+) (/v1/devices/\{device_id\}[^\"]*)\",status=\"(2\d\d)\"\} (\d+)", line)
    if m:
        total += int(m.group(4))
print(total)')"
echo "[fuzz] device-signed calls answered 2xx: $signed_ok" >&2
if [ "${signed_ok:-0}" -eq 0 ]; then
  echo "[fuzz] no signed call got through: the hook does not sign as the mock expects" >&2
  status=1
fi
cases="$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$report" | tail -n 1)"
echo "API fuzzing: ${cases:-0} test cases, exit $status"
exit "$status"
