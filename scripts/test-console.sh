#!/usr/bin/env bash
# Tests the mock's QA console end to end in headless Chromium: starts a mock,
# and runs server-mock/tests/console/*.test.cjs with Node's test runner;
# the tests drive the page with playwright-core and the SDK through the
# `edgepoints` command. Uses Debian's chromium (never a downloaded browser)
# and installs playwright-core into the cache folder the first time.
#
#   scripts/test-console.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.2
CACHE_DIR="${EDGEPOINTS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgepoints}"
playwright_home="$CACHE_DIR/playwright-core-$PLAYWRIGHT_VERSION"

command -v chromium >/dev/null || scripts/install-debian-packages.sh chromium
if [ ! -f "$playwright_home/node_modules/playwright-core/package.json" ]; then
  echo "[console] installing playwright-core $PLAYWRIGHT_VERSION into $playwright_home" >&2
  mkdir -p "$playwright_home"
  # The browser is Debian's: never let the package download one.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix "$playwright_home" \
    "playwright-core@$PLAYWRIGHT_VERSION" >&2
fi

cargo build -q --locked -p edgepoints-mock-server -p edgepoints-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
logs="$target_dir/console-tests"
. scripts/lib/mock-server.sh
start_mock_server "$target_dir/debug/edgepoints-mock-server" "$logs"
echo "[console] mock control plane at $MOCK_URL" >&2

EDGEPOINTS_MOCK_URL="$MOCK_URL" \
  EDGEPOINTS_CLI="$target_dir/debug/edgepoints" \
  CHROMIUM="$(command -v chromium)" \
  NODE_PATH="$playwright_home/node_modules" \
  node --test --test-reporter=spec server-mock/tests/console/
