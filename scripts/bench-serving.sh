#!/usr/bin/env bash
# The serving benchmark: nginx, a bare hyper server (the ceiling: the same
# bytes from memory, no checks) and the edge node (memory cache and disk
# cache) serve the same 4 KiB and 16 MiB items on loopback, one after the
# other in the same run, each driven by wrk. nginx gets as many workers as
# the other servers have runtime threads, sendfile and an open-file cache.
#
#   scripts/bench-serving.sh            # 10 s per run
#   DURATION=30s THREADS=2 scripts/bench-serving.sh
#   PROFILE=debug DURATION=2s scripts/bench-serving.sh   # the CI smoke run
#
# Prints requests/s and GB/s per server and size, and the ratios edge/nginx
# and edge/bare. Installs nginx and wrk from Debian packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx.sh

DURATION="${DURATION:-10s}"
# The test command's smoke run uses the debug build the tests made; the
# figures come from release builds.
PROFILE="${PROFILE:-release}"
THREADS="${THREADS:-2}"
CONNECTIONS_SMALL="${CONNECTIONS_SMALL:-64}"
CONNECTIONS_LARGE="${CONNECTIONS_LARGE:-8}"

log() { printf '[bench] %s\n' "$*" >&2; }

need=()
command -v wrk >/dev/null || need+=(wrk)
scripts/install-debian-packages.sh ${need[@]+"${need[@]}"}

cargo_flags=(-q --locked -p edgepoints-tests --bin serve-bench)
if [ "$PROFILE" = "release" ]; then cargo_flags+=(--release); fi
cargo build "${cargo_flags[@]}"
BIN="target/$PROFILE/serve-bench"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$BIN" items --www "$work/www" >"$work/items"
# nginx workers may run as an unprivileged user: let them read the items.
chmod -R a+rX "$work"
small="$(awk '$2 == 4096 {print $3}' "$work/items")"
large="$(awk '$2 == 16777216 {print $3}' "$work/items")"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_nginx "$work" "$work/www" "$THREADS"
nginx_port="$NGINX_PORT"
pids+=("$NGINX_PID")

declare -A server_pid
# Starts a serve-bench server; sets $url (and the ticket file) once ready.
start() { # name args...
  local name="$1"
  shift
  "$BIN" "$@" --threads "$THREADS" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  server_pid[$name]=$!
  for _ in $(seq 1 600); do
    url="$(sed -n 's/^ready //p' "$work/$name.out")"
    [ -n "$url" ] && return
    sleep 0.1
  done
  log "$name did not start"; cat "$work/$name.err" >&2; exit 1
}

start bare bare --www "$work/www"
bare_url="$url"
start edge-memory edge --www "$work/www" --cache memory
edge_memory_url="$url"
start edge-disk edge --www "$work/www" --cache disk
edge_disk_url="$url"
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/content/$small" 2>/dev/null && break
  sleep 0.1
done

ticket() { # server hash
  awk -v h="$2" '$1 == "ticket" && $2 == h {print $3}' "$work/$1.out"
}

# One wrk run; prints "requests/s". Every server gets the same request
# bytes, ticket header included (nginx and the bare server ignore it), so
# parsing it is not counted against the edge node alone.
run() { # url connections [header]
  local args=(-t "$THREADS" -c "$2" -d "$DURATION" --latency)
  [ -n "${3:-}" ] && args+=(-H "$3")
  # A short warm-up, then the measured run.
  wrk -t "$THREADS" -c "$2" -d 2s ${3:+-H "$3"} "$1" >/dev/null
  wrk "${args[@]}" "$1" >"$work/wrk.out"
  local errors
  errors="$(grep -E 'Non-2xx|Socket errors' "$work/wrk.out" || true)"
  [ -z "$errors" ] || { log "errors on $1: $errors"; cat "$work/wrk.out" >&2; exit 1; }
  awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out"
}

declare -A rps
for size in small large; do
  hash="${!size}"
  connections="CONNECTIONS_${size^^}"
  connections="${!connections}"
  memory_ticket="Edgepoints-Ticket: $(ticket edge-memory "$hash")"
  disk_ticket="Edgepoints-Ticket: $(ticket edge-disk "$hash")"
  log "$size item: nginx"
  rps[nginx_$size]="$(run "http://127.0.0.1:$nginx_port/content/$hash" "$connections" "$memory_ticket")"
  log "$size item: bare hyper"
  rps[bare_$size]="$(run "$bare_url/content/$hash" "$connections" "$memory_ticket")"
  log "$size item: edge node, memory cache"
  rps[memory_$size]="$(run "$edge_memory_url/content/$hash" "$connections" "$memory_ticket")"
  log "$size item: edge node, disk cache"
  rps[disk_$size]="$(run "$edge_disk_url/content/$hash" "$connections" "$disk_ticket")"
done

# Peak resident memory of each server over the whole run (nginx: its
# workers together).
peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nginx_kib=0
for pid in $(pgrep -P "${pids[0]}" || true); do
  nginx_kib=$((nginx_kib + $(peak_kib "$pid")))
done
echo "peak RSS: nginx workers $((nginx_kib / 1024)) MiB, bare $(($(peak_kib "${server_pid[bare]}") / 1024)) MiB," \
  "edge memory $(($(peak_kib "${server_pid[edge-memory]}") / 1024)) MiB, edge disk $(($(peak_kib "${server_pid[edge-disk]}") / 1024)) MiB" \
  "(the edge processes include an in-process mock control plane holding the items)"

python3 - "$PROFILE" "$THREADS" "$DURATION" "$CONNECTIONS_SMALL" "$CONNECTIONS_LARGE" \
  "${rps[nginx_small]}" "${rps[bare_small]}" "${rps[memory_small]}" "${rps[disk_small]}" \
  "${rps[nginx_large]}" "${rps[bare_large]}" "${rps[memory_large]}" "${rps[disk_large]}" <<'PY'
import sys
profile, threads, duration, c_small, c_large = sys.argv[1:6]
values = [float(v) for v in sys.argv[6:]]
sizes = {"4 KiB": (4096, values[0:4], c_small), "16 MiB": (16 << 20, values[4:8], c_large)}
print(f"serving benchmark ({profile} build): {threads} server threads, wrk -t{threads}, {duration} per run, loopback")
print(f"{'item':<7} {'server':<20} {'conns':>5} {'requests/s':>12} {'GB/s':>7} {'vs nginx':>9} {'vs bare':>8}")
for name, (size, (nginx, bare, memory, disk), conns) in sizes.items():
    for label, value in (("nginx", nginx), ("bare hyper", bare), ("edge, memory cache", memory), ("edge, disk cache", disk)):
        print(f"{name:<7} {label:<20} {conns:>5} {value:>12.0f} {value * size / 1e9:>7.2f} {value / nginx:>8.2f}x {value / bare:>7.2f}x")
PY
