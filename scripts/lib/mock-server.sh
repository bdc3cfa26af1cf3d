# Sourced by the test and measurement scripts: starts a mock control plane
# on an ephemeral loopback port and stops it when the script exits.
#
#   . scripts/lib/mock-server.sh
#   start_mock_server path/to/edgepoints-mock-server LOG_DIR [extra args...]
#   echo "$MOCK_URL"
#
# Sets MOCK_URL and MOCK_PID; fails (printing the server's errors) if it
# does not say where it listens within ten seconds.

start_mock_server() {
  local bin="$1" logs="$2"
  shift 2
  mkdir -p "$logs"
  "$bin" --listen 127.0.0.1:0 "$@" >"$logs/mock-server.log" 2>"$logs/mock-server.err" &
  MOCK_PID=$!
  # shellcheck disable=SC2064 # the pid is fixed now, on purpose
  trap "kill $MOCK_PID 2>/dev/null || true; wait $MOCK_PID 2>/dev/null || true" EXIT
  MOCK_URL=""
  for _ in $(seq 1 100); do
    MOCK_URL="$(sed -n 's/^edgepoints-mock-server listening on //p' "$logs/mock-server.log" | head -n 1)"
    [ -n "$MOCK_URL" ] && return 0
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$logs/mock-server.err" >&2; return 1; }
    sleep 0.1
  done
  echo "mock server did not start" >&2
  return 1
}
