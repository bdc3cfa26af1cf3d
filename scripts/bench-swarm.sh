#!/usr/bin/env bash
# The swarm benchmark: origin offload with real SDK instances, and the
# signed heartbeats per second the control plane accepts, against nginx
# serving a 4 KiB static file on the same machine in the same run.
#
#   scripts/bench-swarm.sh                     # full size, 10 s of heartbeat load
#   LOAD_S=20 PHONES=50 scripts/bench-swarm.sh
#   PROFILE=debug LOAD_S=1 PHONES=4 ITEMS=40 FETCHES=10 scripts/bench-swarm.sh   # the CI smoke run
#
# In order: nginx under wrk (the reference); a control plane in memory in
# its own process, driven by `edgepoints swarm` (phones, catalogue, users,
# then the heartbeat load); two control-plane processes over one Redis,
# driven the same way; nginx again. The reference is the mean of the two
# nginx runs, which bracket the others. The figures go to $OUT (swarm.json
# and offload.svg per store) and a summary to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx.sh

LOAD_S="${LOAD_S:-10}"
PHONES="${PHONES:-50}"
ITEMS="${ITEMS:-500}"
ITEM_BYTES="${ITEM_BYTES:-65536}"
FETCHES="${FETCHES:-200}"
THINK_MS="${THINK_MS:-200}"
CONNECTIONS="${CONNECTIONS:-64}"
NODES="${NODES:-2000}"
THREADS="${THREADS:-2}"
OUT="${OUT:-target/bench-swarm}"
PROFILE="${PROFILE:-release}"

log() { printf '[bench-swarm] %s\n' "$*" >&2; }

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null || need+=(redis-server)
scripts/install-debian-packages.sh ${need[@]+"${need[@]}"}

cargo_flags=(-q --locked -p edgepoints-cli -p edgepoints-mock-server)
if [ "$PROFILE" = "release" ]; then cargo_flags+=(--release); fi
cargo build "${cargo_flags[@]}"
SWARM="target/$PROFILE/edgepoints"
MOCK="target/$PROFILE/edgepoints-mock-server"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$OUT"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$work/www"
head -c 4096 /dev/urandom >"$work/www/item.bin"
chmod -R a+rX "$work"
start_nginx "$work" "$work/www" "$THREADS"
nginx_port="$NGINX_PORT"
pids+=("$NGINX_PID")

nginx_rps() {
  wrk -t "$THREADS" -c "$CONNECTIONS" -d 2s "http://127.0.0.1:$nginx_port/item.bin" >/dev/null
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "${LOAD_S}s" "http://127.0.0.1:$nginx_port/item.bin" >"$work/wrk.out"
  if grep -qE 'Non-2xx|Socket errors' "$work/wrk.out"; then
    log "nginx answered with errors"; cat "$work/wrk.out" >&2; exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out"
}

# Starts a mock control-plane process; sets $url once it listens (and
# $mock_pid), in this shell: not in a command substitution's subshell.
start_mock() { # name args...
  local name="$1"
  shift
  : >"$work/$name.out"
  "$MOCK" --listen "127.0.0.1:$(free_port)" --no-demo-content "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  mock_pid=$!
  for _ in $(seq 1 300); do
    url="$(sed -n 's/^edgepoints-mock-server listening on //p' "$work/$name.out" | head -n1)"
    [ -n "$url" ] && return
    sleep 0.1
  done
  log "$name did not start"; cat "$work/$name.err" >&2; exit 1
}

swarm() { # out-dir control-plane-urls...
  local out="$1"
  shift
  local planes=()
  for url in "$@"; do planes+=(--control-plane "$url"); done
  "$SWARM" swarm --phones "$PHONES" --items "$ITEMS" --fetches "$FETCHES" --think-ms "$THINK_MS" \
    --item-bytes "$ITEM_BYTES" --heartbeat-load-s "$LOAD_S" --heartbeat-nodes "$NODES" --heartbeat-connections "$CONNECTIONS" \
    --out "$out" "${planes[@]}"
}

log "nginx, 4 KiB static file (first run)"
nginx_first="$(nginx_rps)"

log "control plane in memory, one process"
start_mock memory --store memory
swarm "$OUT/memory" "$url" | tee "$OUT/memory.txt"
kill "$mock_pid"

log "two control-plane processes over one Redis"
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
start_mock redis-a --store "redis://127.0.0.1:$redis_port/0"
redis_a="$url"
start_mock redis-b --store "redis://127.0.0.1:$redis_port/0" --no-vehicles
redis_b="$url"
swarm "$OUT/redis" "$redis_a" "$redis_b" | tee "$OUT/redis.txt"

log "nginx, 4 KiB static file (second run)"
nginx_second="$(nginx_rps)"

python3 - "$OUT" "$nginx_first" "$nginx_second" "$LOAD_S" "$CONNECTIONS" "$PROFILE" <<'PY'
import json, sys
out, first, second, load_s, connections, profile = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
nginx = (first + second) / 2
print(f"\nswarm benchmark ({profile} build): nginx 4 KiB {first:.0f} and {second:.0f} requests/s (wrk, {connections} connections, {load_s} s each); reference {nginx:.0f}")
print(f"{'control plane':<34} {'offload (steady)':>16} {'node p50/p99 ms':>16} {'origin p50/p99 ms':>18} {'heartbeats/s':>13} {'vs nginx':>9}")
for store, label in (("memory", "memory, 1 process"), ("redis", "Redis, 2 processes")):
    report = json.load(open(f"{out}/{store}/swarm.json"))
    f, load = report["figures"], report["heartbeat_load"]
    node = f"{f['node_latency']['p50_ms']:.1f}/{f['node_latency']['p99_ms']:.1f}"
    origin = f"{f['origin_latency']['p50_ms']:.1f}/{f['origin_latency']['p99_ms']:.1f}"
    print(f"{label:<34} {f['steady_offload'] * 100:>15.1f}% {node:>16} {origin:>18} {load['accepted_per_s']:>13.0f} {load['accepted_per_s'] / nginx:>8.3f}x")
PY
