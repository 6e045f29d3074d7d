#!/usr/bin/env bash
# compose-check (tools/compose-check): ops/docker-compose.yml loaded and validated by compose-spec/compose-go,
# the library Docker Compose v2 loads files with (pinned in tools/compose-check/go.mod), since this
# machine has no Docker engine and Debian's docker-compose 1.29 predates the Compose spec the file uses.
# Built into .tmp/bin once, and again when its sources change. test/ops/compose.test.ts runs it.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
root=$(pwd)
src="$root/tools/compose-check"
bin="$root/.tmp/bin/compose-check"
if [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin" -type f | head -1)" ]; then
  echo "provision: building compose-check (compose-go, go build)" >&2
  go_need
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && GOFLAGS=-buildvcs=false go build -o "$bin" .)
fi
