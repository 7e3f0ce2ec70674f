#!/usr/bin/env bash
# Compile the plain-Java core (org.ecgnet.core) and its JUnit 4 tests, and run them against the
# golden vectors in DIR (made by: python -m export.golden RUN_DIR --out DIR).
#
#   android_demo/core/run_tests.sh DIR
#
# Needs javac/java (JDK 11+) and JUnit 4 + Hamcrest jars: /usr/share/java/junit4.jar and
# /usr/share/java/hamcrest*.jar (Debian/Ubuntu: apt-get install -y junit4), or JUNIT_JAR / HAMCREST_JAR.
# Exit status: 0 all tests passed, 1 test failures, 2 bad usage or missing golden files,
# 3 missing JDK or JUnit.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -ne 1 ]; then
  echo "usage: $0 GOLDEN_DIR   (make it with: python -m export.golden RUN_DIR --out GOLDEN_DIR)" >&2
  exit 2
fi
dir="$1"
for f in pipeline_config.json golden.json; do
  if [ ! -f "$dir/$f" ]; then
    echo "error: $dir/$f is missing (make it with: python -m export.golden RUN_DIR --out $dir)" >&2
    exit 2
  fi
done
dir="$(cd "$dir" && pwd)"

for tool in javac java; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool not found: install a JDK (11 or newer)" >&2
    exit 3
  fi
done
junit="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
if [ ! -f "$junit" ]; then
  echo "error: JUnit 4 jar not found at $junit: apt-get install -y junit4, or set JUNIT_JAR" >&2
  exit 3
fi
hamcrest="${HAMCREST_JAR:-}"
if [ -z "$hamcrest" ]; then
  for cand in /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar /usr/share/java/hamcrest-all.jar; do
    if [ -f "$cand" ]; then hamcrest="$cand"; break; fi
  done
fi
if [ -z "$hamcrest" ] || [ ! -f "$hamcrest" ]; then
  echo "error: Hamcrest jar not found (JUnit 4 needs it): apt-get install -y junit4, or set HAMCREST_JAR" >&2
  exit 3
fi

build="$(mktemp -d "${TMPDIR:-/tmp}/ecgnet-core.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cp="$junit:$hamcrest"
find "$here/src/main/java" "$here/src/test/java" -name '*.java' > "$build/sources.txt"
javac -encoding UTF-8 -Xlint:all -Werror -d "$build/classes" -cp "$cp" @"$build/sources.txt"
tests=$(cd "$here/src/test/java" && find . -name '*Test.java' | sed -e 's|^\./||' -e 's|\.java$||' -e 's|/|.|g' | sort)
echo "golden vectors: $dir"
set +e
java -Decgnet.golden="$dir" -cp "$build/classes:$cp" org.junit.runner.JUnitCore $tests
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "FAILED: Java core does not match the golden vectors in $dir (see above)" >&2
  exit 1
fi
echo "OK: Java core matches the golden vectors in $dir"
