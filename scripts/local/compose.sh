#!/usr/bin/env bash
# The local stack in Docker (ops/docker-compose.yml), behind the same interface as stack.sh:
#   scripts/local/compose.sh start|stop|down|delete|clean|restart|rebuild|logs|status SERVICE|all
#   scripts/local/compose.sh image [TAG]      build the image (default odin-ws:latest)
# A service of the Taskfile is one or more compose services (monitoring = Prometheus, Loki,
# Promtail, Grafana; nats = NATS and its Prometheus exporter; kafka = Redpanda and its console).
# The plans' names are accepted too: go and ws (the gateway), redpanda (kafka). Without Docker, its
# compose plugin or a running daemon it says which is missing in one line and exits 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
compose=(docker compose -f ops/docker-compose.yml)

need_docker() {
  local alt="without Docker the same stack runs as processes: task up LOCAL_MODE=process"
  if ! command -v docker >/dev/null 2>&1; then
    echo "local: this needs Docker (docker is not installed); $alt" >&2; exit 1
  fi
  if ! docker compose version >/dev/null 2>&1; then
    echo "local: this needs Docker's compose plugin (\`docker compose version\` fails: install docker-compose-plugin); $alt" >&2; exit 1
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "local: this needs a running Docker daemon (\`docker info\` cannot reach one); $alt" >&2; exit 1
  fi
}

services_of() {
  case "$1" in
    nats) echo "nats nats-exporter" ;;
    kafka | redpanda) echo "redpanda redpanda-console" ;;
    gateway | go | ws) echo "gateway" ;;
    publisher) echo "publisher" ;;
    monitoring) echo "prometheus loki promtail grafana" ;;
    prometheus | grafana | loki | promtail | nats-exporter | redpanda-console) echo "$1" ;;
    all) echo "" ;; # compose's own default: every service
    *) echo "local: unknown service \"$1\" (nats kafka gateway publisher monitoring all)" >&2; exit 2 ;;
  esac
}

usage="usage: $0 start|stop|down|delete|clean|restart|rebuild|logs|status SERVICE|all, or $0 image [TAG]"
action=${1:-}; target=${2:-}
if [ "$action" = image ]; then
  need_docker
  exec docker build -t "${target:-odin-ws:latest}" .
fi
[ -n "$target" ] || { echo "$usage" >&2; exit 2; }
# shellcheck disable=SC2207
svcs=($(services_of "$target"))
need_docker
follow=${FOLLOW:-true}
case "$action" in
  start) "${compose[@]}" up -d --build --wait "${svcs[@]}" ;;
  stop) "${compose[@]}" stop "${svcs[@]}" ;;
  down) "${compose[@]}" down ;;
  delete) if [ "$target" = all ]; then "${compose[@]}" down -v; else "${compose[@]}" rm -sfv "${svcs[@]}"; fi ;;
  clean) "${compose[@]}" down -v --rmi local --remove-orphans ;;
  restart) "${compose[@]}" restart "${svcs[@]}" ;;
  rebuild) "${compose[@]}" up -d --build --force-recreate --wait "${svcs[@]}" ;;
  logs) if [ "$follow" = true ]; then "${compose[@]}" logs --tail "${LINES:-100}" -f "${svcs[@]}"; else "${compose[@]}" logs --tail "${LINES:-100}" "${svcs[@]}"; fi ;;
  status) "${compose[@]}" ps "${svcs[@]}" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
