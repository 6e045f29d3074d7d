#!/usr/bin/env bash
# The local stack as plain processes (no Docker): what `task local:*` runs when LOCAL_MODE=process,
# and usable on its own:  scripts/local/stack.sh start|stop|delete|restart|logs|status SERVICE|all
# Services: nats (Debian's nats-server, JetStream on), kafka (Apache Kafka from the jars that
# scripts/provision/30-kafka.sh resolves; KRaft, one node), gateway and publisher (the odin-ws CLI),
# monitoring (Debian's prometheus scraping both). Each writes RUN_DIR/<service>.pid and
# RUN_DIR/logs/<service>.log; data lives in RUN_DIR/data/<service> (delete removes it).
# Every port is a variable, so tests run the whole stack on free ports. A service waits for what it
# needs (the gateway for NATS, the publisher for the gateway) with `odin-ws health --wait`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

: "${RUN_DIR:=$ROOT/.run}"
: "${HOST:=127.0.0.1}"
: "${GATEWAY_PORT:=3002}"
: "${PUBLISHER_PORT:=3003}"
: "${NATS_PORT:=4222}"
: "${NATS_MONITOR_PORT:=8222}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${PROMETHEUS_PORT:=9091}"
: "${GATEWAY_API_KEY:=local-dev-key}"
: "${GATEWAY_WORKERS:=1}"
: "${PUBLISHER_RATE:=100}"
: "${WAIT_SECONDS:=60}"
: "${KAFKA_LIBS:=$ROOT/tools/kafka/target/libs}"
# Kafka is opt-in for `start all` here (a JVM of its own); `start kafka` always starts it.
: "${WITH_KAFKA:=false}"
export GATEWAY_API_KEY

ALL=(nats kafka gateway publisher monitoring)
CLI=(node "$ROOT/bin/odin-ws.js")
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/data"

pidfile() { echo "$RUN_DIR/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
log() { echo "local: $*" >&2; }

# spawn NAME CMD...: starts CMD in its own session (so stop reaches its children), logs to a file.
spawn() {
  local name=$1; shift
  if running "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  setsid "$@" >>"$RUN_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
  log "$name started (pid $!, log $RUN_DIR/logs/$name.log)"
}

wait_healthy() {
  local name=$1; shift
  if ! "${CLI[@]}" health "$@" --wait "$WAIT_SECONDS" >"$RUN_DIR/logs/$name.health" 2>&1; then
    log "$name did not become healthy within ${WAIT_SECONDS}s; last lines of its log:"
    tail -n 20 "$RUN_DIR/logs/$name.log" >&2 || true
    cat "$RUN_DIR/logs/$name.health" >&2
    return 1
  fi
  log "$name is healthy"
}

start_nats() {
  command -v nats-server >/dev/null || { log "nats-server is missing: apt-get install nats-server (or bash scripts/provision.sh)"; exit 1; }
  mkdir -p "$RUN_DIR/data/nats"
  spawn nats nats-server -a "$HOST" -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" -js -sd "$RUN_DIR/data/nats" -n odin-ws-local
  wait_healthy nats nats --nats "http://$HOST:$NATS_MONITOR_PORT"
}

start_kafka() {
  if ! ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
    log "Kafka's jars are not in $KAFKA_LIBS: run bash scripts/provision.sh (its Kafka step resolves them with Maven)"
    exit 1
  fi
  local dir="$RUN_DIR/data/kafka" cp="$KAFKA_LIBS/*"
  mkdir -p "$dir"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/logs
num.partitions=12
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  if [ ! -f "$dir/logs/meta.properties" ]; then
    java -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
      -c "$dir/server.properties" --ignore-formatted >>"$RUN_DIR/logs/kafka.log" 2>&1
  fi
  spawn kafka java "-Xmx${KAFKA_HEAP_MB:-512}m" -cp "$cp" kafka.Kafka "$dir/server.properties"
  wait_healthy kafka kafka --kafka "$HOST:$KAFKA_PORT"
}

start_gateway() {
  running nats || start_nats
  spawn gateway "${CLI[@]}" gateway --host "$HOST" --port "$GATEWAY_PORT" --broker nats \
    --nats-url "nats://$HOST:$NATS_PORT" --workers "$GATEWAY_WORKERS" --api-key "$GATEWAY_API_KEY"
  wait_healthy gateway gateway --gateway "http://$HOST:$GATEWAY_PORT"
}

start_publisher() {
  running gateway || start_gateway
  # The Odin backbone path: publisher → NATS subjects odin.token.* → gateway ingest → clients.
  # It waits for a load test (or POST /control) to start publishing.
  spawn publisher "${CLI[@]}" publisher --host "$HOST" --port "$PUBLISHER_PORT" --sink nats \
    --nats-url "nats://$HOST:$NATS_PORT" --rate "$PUBLISHER_RATE"
  wait_healthy publisher publisher --publisher "http://$HOST:$PUBLISHER_PORT"
}

start_monitoring() {
  command -v prometheus >/dev/null || { log "prometheus is missing: apt-get install prometheus (or bash scripts/provision.sh)"; exit 1; }
  mkdir -p "$RUN_DIR/data/monitoring"
  # ops/prometheus/prometheus.yml with this machine's targets (the compose file names containers).
  cat > "$RUN_DIR/data/monitoring/prometheus.yml" <<CONF
# Generated by scripts/local/stack.sh from ops/prometheus/prometheus.yml for plain processes.
global: { scrape_interval: 5s, evaluation_interval: 5s }
rule_files: ['$ROOT/ops/prometheus/alerts.yml']
scrape_configs:
  - job_name: odin-ws-gateway
    static_configs: [{ targets: ['$HOST:$GATEWAY_PORT'] }]
  - job_name: odin-ws-publisher
    static_configs: [{ targets: ['$HOST:$PUBLISHER_PORT'] }]
CONF
  spawn monitoring prometheus --config.file="$RUN_DIR/data/monitoring/prometheus.yml" \
    --storage.tsdb.path="$RUN_DIR/data/monitoring/tsdb" --web.listen-address="$HOST:$PROMETHEUS_PORT"
  wait_healthy monitoring prometheus --prometheus "http://$HOST:$PROMETHEUS_PORT"
}

stop() {
  local name=$1 f pid i
  f=$(pidfile "$name")
  if ! running "$name"; then rm -f "$f"; log "$name is not running"; return 0; fi
  pid=$(cat "$f")
  # The whole session: the gateway's workers, a JVM's threads.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 15 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
  log "$name stopped"
}

status() {
  local name=$1
  if running "$name"; then echo "$name running (pid $(cat "$(pidfile "$name")"))"; else echo "$name stopped"; fi
}

each() {
  local action=$1 target=$2 s
  if [ "$target" = all ]; then
    if [ "$action" = stop ] || [ "$action" = delete ]; then
      for s in publisher gateway kafka nats monitoring; do "$action" "$s"; done
    else
      for s in "${ALL[@]}"; do
        [ "$s" = kafka ] && [ "$WITH_KAFKA" != true ] && [ "$action" != status ] && continue
        "$action" "$s"
      done
    fi
  else
    case " ${ALL[*]} " in *" $target "*) ;; *) log "unknown service \"$target\" (${ALL[*]}, all)"; exit 2 ;; esac
    "$action" "$target"
  fi
}

start() { "start_$1"; }
delete() { stop "$1"; rm -rf "${RUN_DIR:?}/data/$1" "$RUN_DIR/logs/$1.log" "$RUN_DIR/logs/$1.health"; }
restart() { stop "$1"; start "$1"; }
# The code was rebuilt (task build): a process picks it up on restart.
rebuild() { restart "$1"; }
logs() {
  local f="$RUN_DIR/logs/$1.log"
  [ -f "$f" ] || { log "no log for $1 yet ($f)"; return 0; }
  if [ "${FOLLOW:-$([ -t 1 ] && echo true || echo false)}" = true ]; then tail -n "${LINES:-100}" -F "$f"; else tail -n "${LINES:-100}" "$f"; fi
}

action=${1:-}; target=${2:-}
case "$action" in
  start | stop | delete | restart | rebuild | status) [ -n "$target" ] || { log "usage: $0 $action SERVICE|all"; exit 2; }; each "$action" "$target" ;;
  logs) [ -n "$target" ] && [ "$target" != all ] || { log "usage: $0 logs SERVICE"; exit 2; }; logs "$target" ;;
  *) echo "usage: $0 start|stop|delete|restart|rebuild|logs|status SERVICE|all   (services: ${ALL[*]})" >&2; exit 2 ;;
esac
