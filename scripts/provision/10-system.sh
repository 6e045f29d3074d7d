#!/usr/bin/env bash
# System packages the integration tests start or read with: nats-server (broker tests), prometheus (ops tests), ss.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
apt_need nats-server nats-server
apt_need prometheus prometheus
# ss (the listen backlog test reads a listening socket's accept-queue limit with it).
apt_need iproute2 ss
