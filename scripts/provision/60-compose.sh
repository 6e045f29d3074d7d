#!/usr/bin/env bash
# A real Compose implementation to validate ops/docker-compose.yml without a Docker engine:
# Debian's docker-compose (`docker-compose -f ops/docker-compose.yml config` parses, interpolates and
# checks the file against the Compose schema). test/ops/compose.test.ts runs it. Cheap when present.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
apt_need docker-compose docker-compose
