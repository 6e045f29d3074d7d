#!/usr/bin/env bash
# Third-party Centrifugo clients for test/compat: a Python venv with centrifuge-python and cent,
# and the Go driver (centrifuge-go, gocent) built once. Versions are pinned here and in
# test/compat/go/go.mod; the Go module proxy here refuses @latest, so no version floats.
# Everything lands in .tmp/compat (gitignored); a step whose result is present is skipped.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
root=$(pwd)
out="$root/.tmp/compat"
mkdir -p "$out"

PY_PINS="centrifuge-python==0.7.0 cent==5.2.0"
venv="$out/venv"
stamp="$venv/.pins"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$PY_PINS" ]; then
  apt_need python3-venv python3
  echo "provision: python venv for compat tests ($PY_PINS)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $PY_PINS
  echo "$PY_PINS" >"$stamp"
fi

apt_need golang-go go
bin="$out/go-compat"
src="$root/test/compat/go"
# Rebuilt only when a source file is newer than the binary.
if [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin" -type f | head -1)" ]; then
  echo "provision: building the Go compat driver (centrifuge-go, gocent)" >&2
  (cd "$src" && go build -o "$bin" .)
fi

# The Java SDK (centrifuge-java, protobuf) driver: test/compat/java, built with Maven into
# .tmp/compat/java; rebuilt only when a source file is newer than the jar (offline once resolved).
jar="$out/java/java-compat-1.jar"
jsrc="$root/test/compat/java"
if [ ! -f "$jar" ] || [ -n "$(find "$jsrc" -newer "$jar" -type f | head -1)" ]; then
  apt_need openjdk-17-jdk-headless javac
  apt_need maven mvn
  echo "provision: building the Java compat driver (centrifuge-java)" >&2
  mvn -q -B -f "$jsrc/pom.xml" -Dcompat.out="$out/java" package -DskipTests
fi
