#!/usr/bin/env bash
# Provision what the tests need on a fresh machine, so `npm ci && npm test` works there alone.
# Runs every scripts/provision/*.sh in name order; each is idempotent and cheap when its tool is present.
# As root (these machines) a missing system package is installed; otherwise the script stops at once and
# prints the one command that installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/provision/*.sh; do
  bash "$step"
done
