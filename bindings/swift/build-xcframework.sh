#!/usr/bin/env bash
# macOS only: builds the Rust library for iOS devices and simulators with the
# `mobile` size profile, generates the Swift bindings, and assembles
# EdgePointsSDKFFI.xcframework plus the package's Swift sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
here="bindings/swift"
profile=mobile

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  IPHONEOS_DEPLOYMENT_TARGET=13.0 cargo build --locked --profile "$profile" --target "$target" -p edgepoints-ffi
done

# Bindings come from the unstripped host build (same sources, same metadata).
bindings/generate.sh "$here/build/generated" >/dev/null
generated="$here/build/generated/swift"
cp "$generated/EdgePointsSDK.swift" "$here/Sources/EdgePointsSDK/"

headers="$here/build/headers"
rm -rf "$headers" && mkdir -p "$headers"
cp "$generated/EdgePointsSDKFFI.h" "$headers/"
cp "$generated/EdgePointsSDKFFI.modulemap" "$headers/module.modulemap"

sim="$here/build/ios-sim"
mkdir -p "$sim"
lipo -create \
  "target/aarch64-apple-ios-sim/$profile/libedgepoints_ffi.a" \
  "target/x86_64-apple-ios/$profile/libedgepoints_ffi.a" \
  -output "$sim/libedgepoints_ffi.a"

rm -rf "$here/EdgePointsSDKFFI.xcframework"
xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/$profile/libedgepoints_ffi.a" -headers "$headers" \
  -library "$sim/libedgepoints_ffi.a" -headers "$headers" \
  -output "$here/EdgePointsSDKFFI.xcframework"
ls -l "target/aarch64-apple-ios/$profile/libedgepoints_ffi.a"
