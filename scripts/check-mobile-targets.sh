#!/usr/bin/env bash
# Proves the SDK and its bindings compile for phones: `cargo check` for
# aarch64-linux-android and aarch64-apple-ios.
#
# Without an NDK or Xcode, the C parts of dependencies (ring, SQLite) are
# compiled by Debian's clang against the aarch64 glibc headers; for iOS they
# are compiled as aarch64 ELF. Those objects are never linked — `cargo check`
# only needs the build scripts to succeed — while every line of Rust is
# type-checked for the real phone target. Linking, the AAR and the
# XCFramework are built by the hosted-runner workflows in .github/workflows/.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(aarch64-linux-android aarch64-apple-ios)

if ! command -v clang >/dev/null || [ ! -d /usr/aarch64-linux-gnu/include ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang llvm libc6-dev-arm64-cross >/dev/null
fi
installed="$(rustup target list --installed)"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

ar="$(command -v llvm-ar || command -v ar)"
wrappers="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/phone-check-cc"
mkdir -p "$wrappers"
cat >"$wrappers/cc-android" <<'SH'
#!/bin/sh
exec clang -isystem /usr/aarch64-linux-gnu/include "$@"
SH
cat >"$wrappers/cc-ios" <<'SH'
#!/bin/sh
# Drop the Apple target flags and compile as aarch64 ELF with glibc headers.
skip=0
for arg in "$@"; do
  shift
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$arg" in
    --target=*|-miphoneos-version-min=*|-mios-simulator-version-min=*|-arch) continue ;;
    -isysroot) skip=1; continue ;;
  esac
  set -- "$@" "$arg"
done
exec clang --target=aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include "$@"
SH
chmod +x "$wrappers"/cc-*

CC_aarch64_linux_android="$wrappers/cc-android" AR_aarch64_linux_android="$ar" \
  cargo check --locked --target aarch64-linux-android -p edgepoints-ffi -p edgepoints-core
CC_aarch64_apple_ios="$wrappers/cc-ios" AR_aarch64_apple_ios="$ar" \
  SDKROOT=/usr/aarch64-linux-gnu IPHONEOS_DEPLOYMENT_TARGET=13.0 \
  cargo check --locked --target aarch64-apple-ios -p edgepoints-ffi -p edgepoints-core
echo "phone targets check: ${targets[*]}"
