#!/usr/bin/env bash
# The local stack in Docker (ops/docker-compose.yml), behind the same interface as stack.sh:
#   scripts/local/compose.sh start|stop|delete|restart|logs|status SERVICE|all
# A service of the Taskfile is one or more compose services (monitoring = Prometheus, Loki,
# Promtail, Grafana; nats = NATS and its Prometheus exporter; kafka = Redpanda and its console).
set -euo pipefail
cd "$(dirname "$0")/../.."
compose=(docker compose -f ops/docker-compose.yml)

services_of() {
  case "$1" in
    nats) echo "nats nats-exporter" ;;
    kafka) echo "redpanda redpanda-console" ;;
    gateway) echo "gateway" ;;
    publisher) echo "publisher" ;;
    monitoring) echo "prometheus loki promtail grafana" ;;
    all) echo "" ;; # compose's own default: every service
    *) echo "local: unknown service \"$1\" (nats kafka gateway publisher monitoring all)" >&2; exit 2 ;;
  esac
}

action=${1:-}; target=${2:-}
[ -n "$target" ] || { echo "usage: $0 start|stop|delete|restart|logs|status SERVICE|all" >&2; exit 2; }
# shellcheck disable=SC2207
svcs=($(services_of "$target"))
case "$action" in
  start) "${compose[@]}" up -d --build --wait "${svcs[@]}" ;;
  stop) "${compose[@]}" stop "${svcs[@]}" ;;
  delete) if [ "$target" = all ]; then "${compose[@]}" down -v; else "${compose[@]}" rm -sfv "${svcs[@]}"; fi ;;
  restart) "${compose[@]}" restart "${svcs[@]}" ;;
  rebuild) "${compose[@]}" up -d --build --force-recreate --wait "${svcs[@]}" ;;
  logs) "${compose[@]}" logs --tail "${LINES:-100}" $([ "${FOLLOW:-true}" = true ] && echo -f) "${svcs[@]}" ;;
  status) "${compose[@]}" ps "${svcs[@]}" ;;
  *) echo "usage: $0 start|stop|delete|restart|logs|status SERVICE|all" >&2; exit 2 ;;
esac
