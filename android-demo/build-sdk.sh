#!/usr/bin/env bash
# Builds the native libraries for the four Android ABIs with the NDK
# (cargo-ndk) in the `mobile` size profile, and generates the Kotlin
# bindings the `sdk` module compiles (from the unstripped host library, as
# library-mode bindgen needs its metadata). Needs ANDROID_NDK_HOME (the
# version in ndk-version.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -t x86 \
  -o android-demo/sdk/src/main/jniLibs \
  build --locked --profile mobile -p edgepoints-ffi
bindings/generate.sh android-demo/sdk/build/generated-bindings >/dev/null
