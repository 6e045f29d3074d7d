#!/usr/bin/env bash
# The local stack as plain processes (no Docker): what `task local:*` runs when LOCAL_MODE=process,
# and usable on its own:  scripts/local/stack.sh start|stop|delete|restart|logs|status SERVICE|all
# Services: nats (Debian's nats-server, JetStream on), kafka (`odin-ws kafka broker`: Apache Kafka
# from the jars scripts/provision/30-kafka.sh resolves; KRaft, one node), gateway and publisher (the odin-ws CLI),
# monitoring (Debian's prometheus scraping both). Each writes RUN_DIR/<service>.pid and
# RUN_DIR/logs/<service>.log; data lives in RUN_DIR/data/<service> (delete removes it).
# Every port is a variable, so tests run the whole stack on free ports. A service waits for what it
# needs (the gateway for NATS, the publisher for the gateway) with `odin-ws health --wait`.
# A service is "up" only when the process started here is alive, answers its health check and
# owns its port: a port another process holds fails the start, naming that process (the health
# probe would otherwise reach the other process and report a dead service as up).
# With WITH_KAFKA=true the plans' backbone runs: publisher → Kafka (the Odin topics) → gateway
# (--ingest kafka); without it, publisher → NATS subjects → gateway.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

: "${RUN_DIR:=$ROOT/.run}"
: "${HOST:=127.0.0.1}"
: "${GATEWAY_PORT:=3002}"
: "${PUBLISHER_PORT:=3003}"
: "${NATS_PORT:=4222}"
: "${NATS_MONITOR_PORT:=8222}"
: "${KAFKA_PORT:=19092}"
: "${PROMETHEUS_PORT:=9091}"
: "${GATEWAY_API_KEY:=local-dev-api-key}"
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
# Alive: the pid answers and is not a zombie (an exited child this shell has not reaped).
running() {
  local f pid; f=$(pidfile "$1")
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && ! ps -o stat= -p "$pid" | grep -q '^Z'
}
log() { echo "local: $*" >&2; }

# spawn NAME CMD...: starts CMD in its own session (so stop reaches its children), logs to a file.
spawn() {
  local name=$1; shift
  if running "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  setsid "$@" >>"$RUN_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
  log "$name started (pid $!, log $RUN_DIR/logs/$name.log)"
}

# The process listening on TCP PORT, as "pid N (command line)"; empty when nothing listens.
port_owner() {
  local line pid
  line=$(ss -H -ltnp "sport = :$1" 2>/dev/null | head -1)
  [ -n "$line" ] || return 0
  pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line" | head -1)
  if [ -z "$pid" ]; then echo "a process this user cannot see (ss -ltnp 'sport = :$1' as root names it)"; return 0; fi
  echo "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120 | sed 's/ *$//'))"
}

# The pid listening on PORT, or nothing.
port_pid() { ss -H -ltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }

# need_free_ports NAME VAR...: every port (named by its variable) must be free before NAME starts.
need_free_ports() {
  local name=$1 var owner; shift
  for var in "$@"; do
    owner=$(port_owner "${!var}")
    if [ -n "$owner" ]; then
      log "cannot start $name: port ${!var} ($var) is already taken by $owner."
      log "  Stop that process, or give the stack other ports: task up $var=<free port> (docs/development/local-without-docker.md)"
      exit 1
    fi
  done
}

# owns_port NAME PORT: the listener on PORT belongs to NAME's session (the process or its workers).
owns_port() {
  local name=$1 port=$2 pid sid
  pid=$(port_pid "$port")
  [ -n "$pid" ] || return 1
  sid=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')
  [ "$sid" = "$(cat "$(pidfile "$name")")" ]
}

fail_start() {
  local name=$1; shift
  log "$name failed: $*; last lines of its log ($RUN_DIR/logs/$name.log):"
  tail -n 20 "$RUN_DIR/logs/$name.log" >&2 || true
  [ -f "$RUN_DIR/logs/$name.health" ] && cat "$RUN_DIR/logs/$name.health" >&2
  running "$name" && stop "$name" >/dev/null 2>&1
  rm -f "$(pidfile "$name")"
  exit 1
}

# wait_healthy NAME PORT HEALTH-ARGS...: up = alive, healthy, and the owner of PORT.
wait_healthy() {
  local name=$1 port=$2; shift 2
  if ! "${CLI[@]}" health "$@" --wait "$WAIT_SECONDS" --while-pid "$(cat "$(pidfile "$name")")" >"$RUN_DIR/logs/$name.health" 2>&1; then
    running "$name" || fail_start "$name" "the process exited"
    fail_start "$name" "not healthy within ${WAIT_SECONDS}s"
  fi
  running "$name" || fail_start "$name" "the process exited"
  owns_port "$name" "$port" || fail_start "$name" "port $port is answered by $(port_owner "$port"), not by the $name started here"
  log "$name is healthy (pid $(cat "$(pidfile "$name")"), port $port)"
}

start_nats() {
  command -v nats-server >/dev/null || { log "nats-server is missing: bash scripts/provision.sh installs it (apt-get install nats-server)"; exit 1; }
  running nats || need_free_ports nats NATS_PORT NATS_MONITOR_PORT
  mkdir -p "$RUN_DIR/data/nats"
  spawn nats nats-server -a "$HOST" -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" -js -sd "$RUN_DIR/data/nats" -n odin-ws-local
  wait_healthy nats "$NATS_PORT" nats --nats "http://$HOST:$NATS_MONITOR_PORT"
}

start_kafka() {
  if ! ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
    # The step that provides them (Maven; Java 17), run here rather than named: the one fix for missing jars.
    log "Kafka's jars are not in $KAFKA_LIBS yet: resolving them (bash scripts/provision/30-kafka.sh)"
    bash "$ROOT/scripts/provision/30-kafka.sh" >&2 || { log "resolving Kafka's jars failed (see above)"; exit 1; }
  fi
  running kafka || need_free_ports kafka KAFKA_PORT
  mkdir -p "$RUN_DIR/data/kafka"
  # odin-ws kafka broker: one KRaft node (broker and controller in one JVM) from those jars.
  KAFKA_LIBS="$KAFKA_LIBS" spawn kafka "${CLI[@]}" kafka broker --port "$KAFKA_PORT" --data "$RUN_DIR/data/kafka"
  wait_healthy kafka "$KAFKA_PORT" kafka --kafka "$HOST:$KAFKA_PORT"
  # The Odin topics (12 partitions, their retention), so producers and the ingest find them.
  if ! "${CLI[@]}" kafka create-topics --kafka-brokers "$HOST:$KAFKA_PORT" >>"$RUN_DIR/logs/kafka.log" 2>&1; then
    log "kafka: creating the Odin topics failed (see $RUN_DIR/logs/kafka.log)"
    exit 1
  fi
  log "kafka: the Odin topics exist (odin-ws kafka topics --kafka-brokers $HOST:$KAFKA_PORT)"
}

# The feed's path: Kafka when WITH_KAFKA=true or Kafka runs (local:start:kafka; the plans' backbone), else NATS subjects.
kafka_path() { [ "$WITH_KAFKA" = true ] || running kafka; }

start_gateway() {
  running nats || start_nats
  local ingest=()
  if kafka_path; then
    running kafka || start_kafka
    ingest=(--ingest kafka --kafka-brokers "$HOST:$KAFKA_PORT")
  fi
  running gateway || need_free_ports gateway GATEWAY_PORT
  spawn gateway "${CLI[@]}" gateway --host "$HOST" --port "$GATEWAY_PORT" --broker nats \
    --nats-url "nats://$HOST:$NATS_PORT" --workers "$GATEWAY_WORKERS" "${ingest[@]}"
  wait_healthy gateway "$GATEWAY_PORT" gateway --gateway "http://$HOST:$GATEWAY_PORT"
}

start_publisher() {
  running gateway || start_gateway
  # publisher → NATS subjects odin.token.* (or the Kafka topics) → gateway ingest → clients.
  # It waits for a load test (or POST /control) to start publishing.
  local sink=(--sink nats --nats-url "nats://$HOST:$NATS_PORT")
  kafka_path && sink=(--sink kafka --kafka-brokers "$HOST:$KAFKA_PORT")
  running publisher || need_free_ports publisher PUBLISHER_PORT
  spawn publisher "${CLI[@]}" publisher --host "$HOST" --port "$PUBLISHER_PORT" "${sink[@]}" --rate "$PUBLISHER_RATE"
  wait_healthy publisher "$PUBLISHER_PORT" publisher --publisher "http://$HOST:$PUBLISHER_PORT"
}

start_monitoring() {
  command -v prometheus >/dev/null || { log "prometheus is missing: bash scripts/provision.sh installs it (apt-get install prometheus)"; exit 1; }
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
  running monitoring || need_free_ports monitoring PROMETHEUS_PORT
  spawn monitoring prometheus --config.file="$RUN_DIR/data/monitoring/prometheus.yml" \
    --storage.tsdb.path="$RUN_DIR/data/monitoring/tsdb" --web.listen-address="$HOST:$PROMETHEUS_PORT"
  wait_healthy monitoring "$PROMETHEUS_PORT" prometheus --prometheus "http://$HOST:$PROMETHEUS_PORT"
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
  elif [ "$target" = loadtest ] && [ "$action" = stop ]; then
    # A load test (task local:test:*) writes RUN_DIR/loadtest.pid; SIGTERM ends it with its summary.
    stop loadtest
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
# Follows (tail -F) when FOLLOW=true, or by default when stdout is a terminal; LINES (100) first.
logs() {
  local files=() s follow=${FOLLOW:-}
  if [ -z "$follow" ]; then if [ -t 1 ]; then follow=true; else follow=false; fi; fi
  if [ "$1" = all ]; then
    for s in "${ALL[@]}"; do [ -f "$RUN_DIR/logs/$s.log" ] && files+=("$RUN_DIR/logs/$s.log"); done
  elif [ -f "$RUN_DIR/logs/$1.log" ]; then files=("$RUN_DIR/logs/$1.log"); fi
  [ "${#files[@]}" -gt 0 ] || { log "no log for $1 yet (in $RUN_DIR/logs)"; return 0; }
  if [ "$follow" = true ]; then exec tail -n "${LINES:-100}" -F "${files[@]}"; else tail -n "${LINES:-100}" "${files[@]}"; fi
}

action=${1:-}; target=${2:-}
case "$action" in
  start | stop | delete | restart | rebuild | status) [ -n "$target" ] || { log "usage: $0 $action SERVICE|all"; exit 2; }; each "$action" "$target" ;;
  logs) [ -n "$target" ] || { log "usage: $0 logs SERVICE|all"; exit 2; }; logs "$target" ;;
  *) echo "usage: $0 start|stop|delete|restart|rebuild|logs|status SERVICE|all   (services: ${ALL[*]})" >&2; exit 2 ;;
esac
