#!/usr/bin/env bash
# The size of the library an app ships: the host cdylib built with the
# `mobile` profile, stripped, against the 4 MiB budget; where its bytes go
# (ELF sections) and which crates weigh most (the unstripped library's
# symbol sizes, by the crate that names them; C code by its library).
#
#   scripts/measure-size.sh             # the mobile profile as apps get it
#   RELR=1 scripts/measure-size.sh      # with packed relative relocations,
#                                       # the host's equivalent of the
#                                       # Android packing in .cargo/config.toml
#   TOP=40 scripts/measure-size.sh
#
# cargo-bloat cannot read a crate built as cdylib, staticlib and lib at
# once, hence nm.
set -euo pipefail
cd "$(dirname "$0")/.."

TOP="${TOP:-25}"
BUDGET=$((4 * 1024 * 1024))
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
if [ "${RELR:-0}" = 1 ]; then
  # A separate target folder: other flags would rebuild everything anyway.
  export CARGO_TARGET_DIR="$target_dir/relr"
  export RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs"
  target_dir="$CARGO_TARGET_DIR"
fi
cargo build -q --locked --profile mobile -p edgepoints-ffi
lib="$target_dir/mobile/libedgepoints_ffi.so"
stripped="$(mktemp)"
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$lib"

size=$(stat -c %s "$stripped")
python3 - "$size" "$BUDGET" <<'PY'
import sys
size, budget = int(sys.argv[1]), int(sys.argv[2])
print(f"stripped library: {size} bytes ({size / 2**20:.2f} MiB), budget {budget / 2**20:.0f} MiB: "
      f"{'within' if size <= budget else f'{(size - budget) / 2**20:.2f} MiB over'}")
PY

echo
echo "sections (bytes):"
size -A "$stripped" | awk '$1 ~ /^\./ && $2 > 20000 {printf "  %-20s %9d\n", $1, $2}'

echo
echo "top crates by symbol size (unstripped; ${TOP} largest):"
nm -C -S --size-sort "$lib" | python3 -c '
import collections, re, sys
top = int(sys.argv[1])
sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size, name = int(parts[1], 16), parts[3].strip()
    if name.startswith(("sqlite3", "ecp_nistz256", "ring_core")) or re.match(r"^[a-z_0-9]+$", name) and "sqlite" in name:
        crate = "sqlite3 (C)" if "sqlite" in name else "ring (C and assembly)"
    else:
        m = re.match(r"[<&*( ]*(?:mut )?(?:impl )?(?:dyn )?([A-Za-z_][A-Za-z0-9_]*)(?:::|$)", name)
        crate = m.group(1) if m else "(other)"
        if crate.startswith("ring_core"):
            crate = "ring (C and assembly)"
    sizes[crate] += size
total = sum(sizes.values())
for crate, size in sizes.most_common(top):
    print(f"  {crate:<28} {size:>9}  {100 * size / total:5.1f} %")
label = "(all symbols)"
print(f"  {label:<28} {total:>9}")
' "$TOP"
