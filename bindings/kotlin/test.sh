#!/usr/bin/env bash
# The Kotlin binding tests on the host JVM: builds the library, generates the
# Kotlin bindings from it, compiles them with the tests, starts a mock
# control plane, and runs the tests against it. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
build="$root/bindings/build"

kotlin_home="$(scripts/install-test-tools.sh | tail -n 1)"
lib="$(bindings/generate.sh "$build/generated" | tail -n 1)"
lib_dir="$(dirname "$lib")"
# The public API as Android developers meet it: no unsigned types, KDoc on
# every export.
python3 bindings/kotlin/check-api.py "$build"/generated/kotlin/dev/edgepoints/sdk/*.kt bindings/kotlin/src/*.kt
cargo build -q -p edgepoints-mock-server
mock_bin="$lib_dir/edgepoints-mock-server"

jar_of() { # first existing jar among the names given
  for name in "$@"; do
    [ -f "$name" ] && { echo "$name"; return; }
  done
  echo "missing jar: $*" >&2
  exit 1
}
jna="$(jar_of /usr/share/java/jna.jar)"
junit="$(jar_of /usr/share/java/junit4.jar)"
hamcrest="$(jar_of /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar)"
coroutines="$(jar_of "$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar")"
kotlin_test="$(jar_of "$kotlin_home/lib/kotlin-test.jar")"
kotlin_test_junit="$(jar_of "$kotlin_home/lib/kotlin-test-junit.jar")"
stdlib="$(jar_of "$kotlin_home/lib/kotlin-stdlib.jar")"
classpath="$jna:$junit:$hamcrest:$coroutines:$kotlin_test:$kotlin_test_junit"

# Recompile only when the bindings or the tests changed.
sources=("$build"/generated/kotlin/dev/edgepoints/sdk/*.kt bindings/kotlin/src/*.kt bindings/kotlin/tests/*.kt)
stamp="$(cat "${sources[@]}" | sha256sum | cut -c1-16)"
test_jar="$build/kotlin-tests-$stamp.jar"
if [ ! -f "$test_jar" ]; then
  rm -f "$build"/kotlin-tests-*.jar
  echo "compiling Kotlin bindings and tests" >&2
  JAVA_OPTS="${JAVA_OPTS:--Xmx1g -XX:TieredStopAtLevel=1 -XX:+UseSerialGC}" \
    "$kotlin_home/bin/kotlinc-jvm" -nowarn -jvm-target 17 -classpath "$classpath" \
    -d "$test_jar" "${sources[@]}"
fi

# A mock control plane for the tests; stopped on exit whatever happens.
. scripts/lib/mock-server.sh
start_mock_server "$mock_bin" "$build"
url="$MOCK_URL"
echo "mock control plane at $url" >&2

timeout 600 java -Xmx512m -XX:+UseSerialGC \
  -Djna.library.path="$lib_dir" \
  -Dedgepoints.controlPlane="$url" \
  -cp "$test_jar:$classpath:$stdlib" \
  dev.edgepoints.sdk.test.RunTestsKt
