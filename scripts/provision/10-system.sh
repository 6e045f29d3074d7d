#!/usr/bin/env bash
# System packages the integration tests start: nats-server (broker tests), prometheus (ops tests).
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
apt_need nats-server nats-server
apt_need prometheus prometheus
