#!/usr/bin/env bash
# macOS only: builds the Rust library with the `mobile` size profile for iOS
# devices, the iOS simulators (arm64 and x86_64, joined with lipo) and macOS
# (for `swift test` on the Mac), generates the Swift bindings from the
# unstripped host build, and assembles EdgePointsSDKFFI.xcframework plus the
# package's generated Swift source.
set -euo pipefail
cd "$(dirname "$0")/../.."
here="bindings/swift"
profile=mobile

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin; do
  IPHONEOS_DEPLOYMENT_TARGET=13.0 MACOSX_DEPLOYMENT_TARGET=12.0 \
    cargo build --locked --profile "$profile" --target "$target" -p edgepoints-ffi
done

# Bindings come from the unstripped host build (same sources, same metadata).
bindings/generate.sh "$here/build/generated" >/dev/null
generated="$here/build/generated/swift"
cp "$generated/EdgePointsSDK.swift" "$here/Sources/EdgePointsSDK/"

headers="$here/build/headers"
rm -rf "$headers" && mkdir -p "$headers"
cp "$generated/EdgePointsSDKFFI.h" "$headers/"
cp "$generated/EdgePointsSDKFFI.modulemap" "$headers/module.modulemap"

fat() { # OUT_DIR TARGET... : one static library with every target's slice
  local out="$1"
  shift
  mkdir -p "$out"
  lipo -create $(for t in "$@"; do echo "target/$t/$profile/libedgepoints_ffi.a"; done) \
    -output "$out/libedgepoints_ffi.a"
}
fat "$here/build/ios-sim" aarch64-apple-ios-sim x86_64-apple-ios
fat "$here/build/macos" aarch64-apple-darwin x86_64-apple-darwin

rm -rf "$here/EdgePointsSDKFFI.xcframework"
xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/$profile/libedgepoints_ffi.a" -headers "$headers" \
  -library "$here/build/ios-sim/libedgepoints_ffi.a" -headers "$headers" \
  -library "$here/build/macos/libedgepoints_ffi.a" -headers "$headers" \
  -output "$here/EdgePointsSDKFFI.xcframework"
ls -l "target/aarch64-apple-ios/$profile/libedgepoints_ffi.a"
