#!/usr/bin/env bash
# Installs what the tests need, only when it is missing: redis-server (the
# mock's shared-state backend), JNA, JUnit 4, Chromium and Python's YAML
# reader from Debian packages, and the
# Kotlin compiler from its npm package into a cache folder outside the
# repository. Safe to run again.
#
# Prints the Kotlin compiler's home folder on its last line.
set -euo pipefail

KOTLIN_VERSION="${EDGEPOINTS_KOTLIN_VERSION:-2.4.20}"
CACHE_DIR="${EDGEPOINTS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgepoints}"

log() { printf '[install] %s\n' "$*" >&2; }

need_deb=()
command -v redis-server >/dev/null || need_deb+=(redis-server)
[ -f /usr/share/java/jna.jar ] || need_deb+=(libjna-java)
dpkg -s libjna-jni >/dev/null 2>&1 || need_deb+=(libjna-jni)
[ -f /usr/share/java/junit4.jar ] || need_deb+=(junit4)
[ -f /usr/share/java/hamcrest-core.jar ] || [ -f /usr/share/java/hamcrest.jar ] || need_deb+=(libhamcrest-java)
# The QA console's tests drive Debian's Chromium (never a downloaded one).
command -v chromium >/dev/null || need_deb+=(chromium)
# The workflow check reads the hosted-runner workflows' YAML.
python3 -c 'import yaml' 2>/dev/null || need_deb+=(python3-yaml)
"$(dirname "$0")/install-debian-packages.sh" ${need_deb[@]+"${need_deb[@]}"}

kotlin_home="$CACHE_DIR/kotlin-compiler-$KOTLIN_VERSION/node_modules/kotlin-compiler"
if [ ! -x "$kotlin_home/bin/kotlinc-jvm" ]; then
  log "installing the Kotlin compiler $KOTLIN_VERSION into $CACHE_DIR"
  mkdir -p "$CACHE_DIR/kotlin-compiler-$KOTLIN_VERSION"
  npm install --silent --no-audit --no-fund --prefix "$CACHE_DIR/kotlin-compiler-$KOTLIN_VERSION" \
    "kotlin-compiler@$KOTLIN_VERSION" >&2
  chmod +x "$kotlin_home"/bin/* 2>/dev/null || true
fi
[ -x "$kotlin_home/bin/kotlinc-jvm" ] || { log "kotlinc-jvm not found in $kotlin_home"; exit 1; }
echo "$kotlin_home"
