#!/usr/bin/env bash
# Centrifugo v6.9.1, the server test/compat/centrifugo-parity.test.ts compares odin-ws with: built
# from its released Go module (pinned; the Go module proxy, no repository fetched) into a cache
# outside the repository. CENTRIFUGO_BIN overrides where the test looks; the build is skipped
# when that binary (or the cached one) is present.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
CENTRIFUGO_VERSION=v6.9.1
dir="${ODIN_WS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odin-ws}/centrifugo-$CENTRIFUGO_VERSION"
if [ -n "${CENTRIFUGO_BIN:-}" ] && [ -x "$CENTRIFUGO_BIN" ]; then exit 0; fi
if [ -x "$dir/centrifugo" ]; then exit 0; fi
go_need
echo "provision: building Centrifugo $CENTRIFUGO_VERSION into $dir (go install, pinned)" >&2
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION"
