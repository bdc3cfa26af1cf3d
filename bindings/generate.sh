#!/usr/bin/env bash
# Builds the host library unstripped and generates the Kotlin and Swift
# bindings from it in library mode, with the names from uniffi.toml.
#
#   bindings/generate.sh [OUT_DIR]      (default: bindings/build/generated)
#
# Leaves OUT_DIR/kotlin (the Kotlin sources), OUT_DIR/swift (Swift source,
# C header, modulemap) and prints the library's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bindings/build/generated}"
profile="${EDGEPOINTS_PROFILE:-debug}"

cargo_flags=()
[ "$profile" = "debug" ] || cargo_flags+=(--profile "$profile")
cargo build -q "${cargo_flags[@]}" -p edgepoints-ffi -p uniffi-bindgen >&2

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
case "$(uname -s)" in
  Darwin) lib="$target_dir/$profile/libedgepoints_ffi.dylib" ;;
  *) lib="$target_dir/$profile/libedgepoints_ffi.so" ;;
esac
bindgen="$target_dir/$profile/uniffi-bindgen"
[ -x "$bindgen" ] || bindgen="$target_dir/debug/uniffi-bindgen"

rm -rf "$out/kotlin" "$out/swift"
mkdir -p "$out/kotlin" "$out/swift"
"$bindgen" generate "$lib" --language kotlin --no-format --config uniffi.toml --out-dir "$out/kotlin" >&2
# Exceptions' `message` in the SDK's words (see the script).
python3 bindings/kotlin/readable-messages.py "$out/kotlin/dev/edgepoints/sdk/edgepoints_ffi.kt"
"$bindgen" generate "$lib" --language swift --no-format --config uniffi.toml --out-dir "$out/swift" >&2

# The Swift package and the XCFramework need all three; fail here, not on a Mac.
for f in EdgePointsSDK.swift EdgePointsSDKFFI.h EdgePointsSDKFFI.modulemap; do
  [ -s "$out/swift/$f" ] || { echo "missing generated Swift file: $f" >&2; exit 1; }
done
[ -s "$out/kotlin/dev/edgepoints/sdk/edgepoints_ffi.kt" ] || { echo "missing generated Kotlin bindings" >&2; exit 1; }
echo "$lib"
