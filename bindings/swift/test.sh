#!/usr/bin/env bash
# macOS only: the Swift package's tests (`swift test`) against a mock
# control plane, as bindings/kotlin/test.sh runs the Kotlin ones on the JVM.
# Run build-xcframework.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d bindings/swift/EdgePointsSDKFFI.xcframework ] || { echo "run bindings/swift/build-xcframework.sh first" >&2; exit 1; }
cargo build -q --locked -p edgepoints-mock-server
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

. scripts/lib/mock-server.sh
start_mock_server "$target_dir/debug/edgepoints-mock-server" bindings/swift/build
echo "mock control plane at $MOCK_URL" >&2
cd bindings/swift
EDGEPOINTS_CONTROL_PLANE="$MOCK_URL" swift test
