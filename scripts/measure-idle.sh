#!/usr/bin/env bash
# What a headless edge node costs while it serves nothing: its resident
# memory and how often it wakes, serving (on Wi-Fi) and paused (on cellular
# under the default Wi-Fi-only policy), against the heartbeat interval.
#
#   scripts/measure-idle.sh                      # release build, 60 s each
#   PROFILE=debug DURATION=5 scripts/measure-idle.sh   # the CI smoke run
#
# Wake-ups are voluntary context switches of all the node's threads, read
# from /proc/PID/task/*/status twice a second from outside (a thread that
# ends keeps the count last read of it); a "burst" is a half-second in
# which any thread woke. Prints one line per mode and exits non-zero if the
# node did not start or was not heard from.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-release}"
DURATION="${DURATION:-60}"
SETTLE="${SETTLE:-5}"

log() { printf '[idle] %s\n' "$*" >&2; }

cargo_flags=(-q --locked -p edgepoints-cli -p edgepoints-mock-server)
if [ "$PROFILE" = "release" ]; then cargo_flags+=(--release); fi
cargo build "${cargo_flags[@]}"
bin="target/$PROFILE"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Prints the line of FILE that starts with PREFIX, without it, once it
# appears (10 s at most).
await_line() {
  local file="$1" prefix="$2" pid="$3"
  for _ in $(seq 1 200); do
    local line
    line="$(sed -n "s|^$prefix||p" "$file" | head -n 1)"
    if [ -n "$line" ]; then echo "$line"; return; fi
    kill -0 "$pid" 2>/dev/null || { cat "$file" "$file.err" >&2 || true; return 1; }
    sleep 0.05
  done
  log "no '$prefix' from pid $pid"
  return 1
}

"$bin/edgepoints-mock-server" --listen 127.0.0.1:0 >"$work/mock" 2>"$work/mock.err" &
pids+=($!)
url="$(await_line "$work/mock" "edgepoints-mock-server listening on " "$!")"
interval_ms="$(curl -fsS "$url/admin/points-rules" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heartbeat_interval_ms"])')"
log "mock control plane at $url, heartbeat interval ${interval_ms} ms"

measure() {
  local mode="$1" network="$2"
  mkdir -p "$work/$mode"
  "$bin/edgepoints" node --control-plane "$url" --data-dir "$work/$mode/data" \
    --listen 127.0.0.1:0 --grant --sync-every 0 --network "$network" \
    >"$work/$mode/out" 2>"$work/$mode/out.err" &
  local pid=$!
  pids+=("$pid")
  await_line "$work/$mode/out" "edge node .* serving on " "$pid" >/dev/null
  # Start-up (registration, consent, the first announcement and beat) is
  # not idle; the measured span starts after it.
  sleep "$SETTLE"
  local before after
  before="$(heartbeats)"
  python3 - "$pid" "$DURATION" "$mode" "$interval_ms" <<'PY'
import glob, os, sys, time
pid, duration, mode, interval_ms = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def switches():
    counts = {}
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        counts[path.split("/")[4]] = int(line.split()[1])
        except OSError:
            pass  # the thread ended between the listing and the read
    return counts

first = switches()
last = dict(first)
bursts = []
step = 0.5
start = time.monotonic()
end = start + duration
while time.monotonic() < end:
    time.sleep(step)
    now = switches()
    woke = sum(max(0, now[t] - last.get(t, 0)) for t in now)
    if woke:
        bursts.append(f"{time.monotonic() - start:.1f}s:{woke}")
    last.update(now)
total = sum(last[t] - first.get(t, 0) for t in last)
with open(f"/proc/{pid}/status") as f:
    status = dict(line.split(":", 1) for line in f)
rss_kb = int(status["VmRSS"].split()[0])
threads = int(status["Threads"])
intervals = duration * 1000 / interval_ms
print(
    f"{mode:8} {duration:.0f} s: {total} voluntary switches ({total / duration:.2f}/s), "
    f"{len(bursts)} wake-up half-seconds ({len(bursts) / intervals:.2f} per heartbeat interval), "
    f"RSS {rss_kb / 1024:.1f} MiB, {threads} threads"
)
print(f"         wake-ups (time:switches): {' '.join(bursts) or 'none'}")
PY
  after="$(heartbeats)"
  echo "         heartbeats accepted by the control plane meanwhile: $((after - before))"
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
}

heartbeats() {
  curl -fsS "$url/admin/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["applied"].get("heartbeats", 0))'
}

log "profile $PROFILE, ${DURATION} s per mode after ${SETTLE} s of start-up"
measure serving wifi
measure paused cellular
