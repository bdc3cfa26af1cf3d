#!/usr/bin/env bash
# Builds the native libraries for Android ABIs with the NDK (cargo-ndk) in
# the `mobile` size profile, and generates the Kotlin bindings the `sdk`
# module compiles. Needs ANDROID_NDK_HOME (version in ndk-version.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 \
  -o android-demo/sdk/src/main/jniLibs \
  build --locked --profile mobile -p edgepoints-ffi
bindings/generate.sh android-demo/sdk/build/generated-bindings >/dev/null
