#!/usr/bin/env bash
# Real Apache Kafka (KRaft) on 127.0.0.1, assembled from Maven artifacts: no Docker, no tarball.
#
#   kafka.sh fetch                                   fetch the broker jars once (cached)
#   kafka.sh start [--brokers 1|3] [--port BASE] [--data DIR] [--node ID] [--watch-pid PID]
#   kafka.sh stop  [--data DIR] [--node ID]
#   kafka.sh status [--data DIR]
#   kafka.sh run   [start options]                   foreground; stops its brokers on SIGINT/SIGTERM/parent exit
#
# Environment: MAMORI_HOME (default <repo>/.mamori), MAMORI_KAFKA_CACHE (default $MAMORI_HOME/kafka),
# MAMORI_KAFKA_START_TIMEOUT_S (default 90), MAMORI_KAFKA_HEAP (default 512m), JAVA (default: java on PATH),
# MVN (default: mvn on PATH).
# See docs/local-kafka.md.
set -euo pipefail

KAFKA_VERSION=4.1.2
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
MAMORI_HOME="${MAMORI_HOME:-$REPO_ROOT/.mamori}"
CACHE_DIR="${MAMORI_KAFKA_CACHE:-$MAMORI_HOME/kafka}"
DIST_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION"
LIBS_DIR="$DIST_DIR/libs"
LIBS_MARKER="$DIST_DIR/.libs-complete"
POM="$SCRIPT_DIR/kafka/pom.xml"
START_TIMEOUT_S="${MAMORI_KAFKA_START_TIMEOUT_S:-90}"
HEAP="${MAMORI_KAFKA_HEAP:-512m}"
JAVA_BIN="${JAVA:-java}"
MVN_BIN="${MVN:-mvn}"
# Controller (KRaft quorum) ports sit this far above the client ports.
CONTROLLER_PORT_OFFSET=100
STOP_GRACE_S=20

die() { echo "kafka.sh: error: $*" >&2; exit 1; }
info() { echo "kafka.sh: $*" >&2; }

usage() {
  sed -n '2,13p' "$SELF" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- prerequisites

require_java() {
  command -v "$JAVA_BIN" >/dev/null 2>&1 \
    || die "no 'java' on PATH; Kafka $KAFKA_VERSION needs Java 17+ (install e.g. openjdk-17-jre-headless, or set JAVA=/path/to/java)"
  local line major
  line="$("$JAVA_BIN" -version 2>&1 | head -n 1)"
  major="$(printf '%s\n' "$line" | sed -n 's/.*version "\([0-9][0-9]*\)[."].*/\1/p')"
  [ -n "$major" ] || major="$(printf '%s\n' "$line" | sed -n 's/.*version "\([0-9][0-9]*\)".*/\1/p')"
  [ -n "$major" ] || die "cannot read the Java version from '$line'; Kafka $KAFKA_VERSION needs Java 17+ (set JAVA=/path/to/java17)"
  if [ "$major" = "1" ] || [ "$major" -lt 17 ]; then
    die "Java $major found ('$line'); Kafka $KAFKA_VERSION needs Java 17+ (install openjdk-17 or set JAVA=/path/to/java17)"
  fi
}

require_mvn() {
  command -v "$MVN_BIN" >/dev/null 2>&1 \
    || die "no 'mvn' on PATH (or MVN); it is needed once to fetch Kafka $KAFKA_VERSION jars (install maven 3.6+, or copy a filled $LIBS_DIR from another machine and create $LIBS_MARKER)"
}

# ---------------------------------------------------------------- fetch

libs_ready() { [ -f "$LIBS_MARKER" ] && [ -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]; }

cmd_fetch() {
  if libs_ready; then
    return 0
  fi
  require_java
  require_mvn
  mkdir -p "$DIST_DIR"
  local tmp log
  tmp="$(mktemp -d "$DIST_DIR/libs.tmp.XXXXXX")"
  log="$DIST_DIR/mvn-fetch.log"
  info "fetching Kafka $KAFKA_VERSION jars with Maven into $LIBS_DIR (once)"
  if ! "$MVN_BIN" -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf "$tmp"
    tail -n 15 "$log" >&2 || true
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (full log: $log); check network access to Maven Central or the mirror in ~/.m2/settings.xml, then rerun 'kafka.sh fetch'"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing in the copy (log: $log); rerun 'kafka.sh fetch'"; }
  # Another fetch may have finished meanwhile: keep whichever complete copy landed first.
  if libs_ready; then
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  printf 'kafka %s\njars %s\n' "$KAFKA_VERSION" "$(ls "$LIBS_DIR" | wc -l | tr -d ' ')" >"$LIBS_MARKER"
  info "fetched $(ls "$LIBS_DIR" | wc -l | tr -d ' ') jars"
}

# ---------------------------------------------------------------- helpers

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

# Alive and not a zombie (an init that does not reap would otherwise keep a dead broker "running").
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  case "$(ps -p "$1" -o stat= 2>/dev/null || true)" in *Z*) return 1 ;; esac
  return 0
}

# The command line a live pid runs, or nothing.
pid_args() { ps -p "$1" -o args= 2>/dev/null || true; }

# A pid file names one of our brokers only if that pid still runs kafka.Kafka with this node's config.
node_pid() {
  local node_dir="$1" pid
  [ -f "$node_dir/kafka.pid" ] || return 1
  pid="$(cat "$node_dir/kafka.pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 1
  case "$(pid_args "$pid")" in
    *kafka.Kafka*"$node_dir/server.properties"*) echo "$pid"; return 0 ;;
  esac
  return 1
}

node_dir() { echo "$DATA_DIR/node-$1"; }

load_cluster_env() {
  STORED_BROKERS=""; STORED_PORT=""; CLUSTER_ID=""
  if [ -f "$DATA_DIR/cluster.env" ]; then
    # shellcheck disable=SC1091
    . "$DATA_DIR/cluster.env"
    STORED_BROKERS="${BROKERS:-}"; STORED_PORT="${BASE_PORT:-}"
  fi
}

write_cluster_env() {
  printf 'BROKERS=%s\nBASE_PORT=%s\nCLUSTER_ID=%s\nKAFKA_VERSION=%s\n' \
    "$NUM_BROKERS" "$BASE_PORT" "$CLUSTER_ID" "$KAFKA_VERSION" >"$DATA_DIR/cluster.env"
}

new_cluster_id() {
  # A Kafka Uuid: 16 random bytes, base64url without padding; Kafka rejects ids that start with '-'.
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*) ;; *) echo "$id"; return 0 ;; esac
  done
}

write_node_config() {
  local id="$1" dir port cport voters="" i rf min_isr
  dir="$(node_dir "$id")"
  port=$((BASE_PORT + id - 1))
  cport=$((BASE_PORT + CONTROLLER_PORT_OFFSET + id - 1))
  for i in $(seq 1 "$NUM_BROKERS"); do
    voters="${voters:+$voters,}$i@127.0.0.1:$((BASE_PORT + CONTROLLER_PORT_OFFSET + i - 1))"
  done
  if [ "$NUM_BROKERS" -ge 3 ]; then rf=3; min_isr=2; else rf=1; min_isr=1; fi
  mkdir -p "$dir/kafka-logs"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/kafka-logs
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
# Convenient for poking around; Mamori services create their topics explicitly.
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# Local clusters notice a dead node quickly (fault tests kill brokers on purpose).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
replica.lag.time.max.ms=10000
unclean.leader.election.enable=false
EOF
  cat >"$dir/log4j2.properties" <<EOF
# The broker logs to files in its node directory, never to the terminal.
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = $dir/server.log
appender.server.filePattern = $dir/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 20MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = WARN
logger.state_change.name = state.change.logger
logger.state_change.level = WARN
EOF
}

# Sets JAVA_CMD (an array, so paths with spaces and the class path wildcard survive).
java_cmd() {
  local dir="$1"
  # Mirrors kafka-run-class.sh's defaults, with a small heap.
  JAVA_CMD=("$JAVA_BIN" "-Xmx$HEAP" "-Xms128m" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" "-Dkafka.logs.dir=$dir"
    -cp "$LIBS_DIR/*")
}

format_node() {
  local id="$1" dir log
  dir="$(node_dir "$id")"
  [ -f "$dir/kafka-logs/meta.properties" ] && return 0
  log="$dir/format.log"
  java_cmd "$dir"
  if ! "${JAVA_CMD[@]}" kafka.tools.StorageTool format --ignore-formatted \
      -t "$CLUSTER_ID" -c "$dir/server.properties" >"$log" 2>&1; then
    tail -n 20 "$log" >&2 || true
    die "formatting node $id in $dir failed (log: $log); remove $DATA_DIR to start from scratch"
  fi
}

launch_node() {
  local id="$1" dir
  dir="$(node_dir "$id")"
  rm -f "$dir/kafka.pid"
  # The wrapper writes its own pid and execs java, so the pid file names the JVM. setsid keeps a Ctrl-C
  # in the terminal from reaching the broker directly: stop/run shut it down in order instead.
  local detach=""
  command -v setsid >/dev/null 2>&1 && detach="setsid"
  java_cmd "$dir"
  # The pid file appears whole (write then rename): a reader never sees it empty.
  $detach bash -c 'echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
    "${JAVA_CMD[@]}" kafka.Kafka "$dir/server.properties" \
    </dev/null >"$dir/stdout.log" 2>&1 &
}

log_offset() { if [ -f "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }

# Waits for "Kafka Server started" (written after this start) and a TCP answer on the client port.
wait_node() {
  local id="$1" from="$2" dir port deadline pid=""
  dir="$(node_dir "$id")"
  port=$((BASE_PORT + id - 1))
  deadline=$(( $(date +%s) + START_TIMEOUT_S ))
  while :; do
    pid="$(node_pid "$dir" || true)"
    if [ -n "$pid" ] && [ -f "$dir/server.log" ] \
      && tail -c +"$((from + 1))" "$dir/server.log" 2>/dev/null | grep -q "Kafka Server started" \
      && port_open "$port"; then
      return 0
    fi
    # Failed only when the recorded process is really gone (not while the wrapper is still exec'ing java).
    if [ -z "$pid" ] && [ -s "$dir/kafka.pid" ] && ! kill -0 "$(cat "$dir/kafka.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
      node_failed "$id" "exited during startup"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      node_failed "$id" "did not answer on 127.0.0.1:$port within ${START_TIMEOUT_S}s (raise MAMORI_KAFKA_START_TIMEOUT_S on slow machines)"
      return 1
    fi
    sleep 0.3
  done
}

node_failed() {
  local id="$1" why="$2" dir
  dir="$(node_dir "$id")"
  {
    echo "---- tail of $dir/server.log ----"
    tail -n 25 "$dir/server.log" 2>/dev/null || echo "(no server.log)"
    echo "---- tail of $dir/stdout.log ----"
    tail -n 10 "$dir/stdout.log" 2>/dev/null || echo "(no stdout.log)"
    echo "----"
  } >&2
  if grep -q "Address already in use" "$dir/server.log" "$dir/stdout.log" 2>/dev/null; then
    why="$why: a port is already in use"
  fi
  echo "kafka.sh: error: broker node $id $why" >&2
}

stop_pid() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid"; do
    if [ "$waited" -ge $((STOP_GRACE_S * 5)) ]; then
      info "pid $pid ignored SIGTERM for ${STOP_GRACE_S}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

node_ids() {
  if [ -n "$ONLY_NODE" ]; then echo "$ONLY_NODE"; else seq 1 "$NUM_BROKERS"; fi
}

broker_list() {
  local i list=""
  for i in $(seq 1 "$NUM_BROKERS"); do list="${list:+$list,}127.0.0.1:$((BASE_PORT + i - 1))"; done
  echo "$list"
}

# ---------------------------------------------------------------- commands

parse_opts() {
  OPT_BROKERS=""; OPT_PORT=""; ONLY_NODE=""; WATCH_PID=""
  DATA_DIR="${MAMORI_KAFKA_DATA:-$CACHE_DIR/data}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --brokers) OPT_BROKERS="${2:-}"; shift 2 ;;
      --brokers=*) OPT_BROKERS="${1#*=}"; shift ;;
      --port) OPT_PORT="${2:-}"; shift 2 ;;
      --port=*) OPT_PORT="${1#*=}"; shift ;;
      --data) DATA_DIR="${2:-}"; shift 2 ;;
      --data=*) DATA_DIR="${1#*=}"; shift ;;
      --node) ONLY_NODE="${2:-}"; shift 2 ;;
      --node=*) ONLY_NODE="${1#*=}"; shift ;;
      --watch-pid) WATCH_PID="${2:-}"; shift 2 ;;
      --watch-pid=*) WATCH_PID="${1#*=}"; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option '$1' (see 'kafka.sh --help')" ;;
    esac
  done
  [ -n "$DATA_DIR" ] || die "--data needs a directory"
  case "$OPT_BROKERS" in ""|1|3) ;; *) die "--brokers must be 1 or 3 (got '$OPT_BROKERS')" ;; esac
  case "$OPT_PORT" in ""|*[!0-9]*) [ -z "$OPT_PORT" ] || die "--port must be a number (got '$OPT_PORT')" ;; esac
  if [ -n "$OPT_PORT" ] && { [ "$OPT_PORT" -lt 1024 ] || [ "$OPT_PORT" -gt $((65535 - CONTROLLER_PORT_OFFSET - 3)) ]; }; then
    die "--port must be between 1024 and $((65535 - CONTROLLER_PORT_OFFSET - 3)) (got $OPT_PORT)"
  fi
  mkdir -p "$DATA_DIR"
  DATA_DIR="$(cd "$DATA_DIR" && pwd)"
  load_cluster_env
  if [ -n "$OPT_BROKERS" ] && [ -n "$STORED_BROKERS" ] && [ "$OPT_BROKERS" != "$STORED_BROKERS" ]; then
    die "$DATA_DIR holds a $STORED_BROKERS-broker cluster; use another --data DIR for $OPT_BROKERS brokers, or delete $DATA_DIR"
  fi
  NUM_BROKERS="${OPT_BROKERS:-${STORED_BROKERS:-1}}"
  BASE_PORT="${OPT_PORT:-${STORED_PORT:-9092}}"
  if [ -n "$ONLY_NODE" ]; then
    case "$ONLY_NODE" in *[!0-9]*) die "--node must be a node id 1..$NUM_BROKERS" ;; esac
    { [ "$ONLY_NODE" -ge 1 ] && [ "$ONLY_NODE" -le "$NUM_BROKERS" ]; } || die "--node must be a node id 1..$NUM_BROKERS"
  fi
}

cmd_start() {
  parse_opts "$@"
  require_java
  cmd_fetch

  # Refuse before launching anything: which nodes are already up, and are our ports free?
  local id dir to_start="" port cport running=0 pid p
  for id in $(node_ids); do
    dir="$(node_dir "$id")"
    if node_pid "$dir" >/dev/null; then
      running=$((running + 1))
      continue
    fi
    port=$((BASE_PORT + id - 1))
    cport=$((BASE_PORT + CONTROLLER_PORT_OFFSET + id - 1))
    for p in "$port" "$cport"; do
      if port_open "$p"; then
        die "port $p on 127.0.0.1 is already in use (node $id needs $port and $cport); stop whatever listens there ('kafka.sh stop', or 'lsof -i :$p' to find it) or pick another base with --port"
      fi
    done
    to_start="$to_start $id"
  done
  if [ -z "$to_start" ]; then
    info "already running ($running node(s), data $DATA_DIR)"
    broker_list
    start_watcher
    return 0
  fi

  [ -n "$CLUSTER_ID" ] || CLUSTER_ID="$(new_cluster_id)"
  write_cluster_env
  # Formatting starts one JVM per node: run them side by side.
  local fpids=""
  for id in $to_start; do
    write_node_config "$id"
    format_node "$id" &
    fpids="$fpids $!"
  done
  for pid in $fpids; do wait "$pid" || exit 1; done

  local offsets=""
  for id in $to_start; do
    offsets="$offsets $(log_offset "$(node_dir "$id")/server.log")"
    launch_node "$id"
  done
  set -- $offsets
  for id in $to_start; do
    if ! wait_node "$id" "$1"; then
      # Never leave half a cluster behind from a failed start.
      for id in $to_start; do
        dir="$(node_dir "$id")"
        pid="$(node_pid "$dir" || true)"
        [ -z "$pid" ] || stop_pid "$pid"
        rm -f "$dir/kafka.pid"
      done
      exit 1
    fi
    shift
  done
  info "started$to_start ($NUM_BROKERS-node KRaft cluster, Kafka $KAFKA_VERSION, data $DATA_DIR)"
  start_watcher
  broker_list
}

# With --watch-pid, a small detached loop stops this cluster when that process is gone (a crashed test run).
start_watcher() {
  [ -n "$WATCH_PID" ] || return 0
  local old
  old="$(cat "$DATA_DIR/watcher.pid" 2>/dev/null || true)"
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then kill "$old" 2>/dev/null || true; fi
  local detach=""
  command -v setsid >/dev/null 2>&1 && detach="setsid"
  $detach bash -c 'echo $$ >"$1"; while kill -0 "$2" 2>/dev/null; do sleep 1; done; exec "$3" stop --data "$4"' \
    _ "$DATA_DIR/watcher.pid" "$WATCH_PID" "$SELF" "$DATA_DIR" </dev/null >/dev/null 2>&1 &
}

cmd_stop() {
  parse_opts "$@"
  local id dir pid pids=""
  # Stop the watcher first (unless we are it), so it does not race us.
  if [ -z "$ONLY_NODE" ] && [ -f "$DATA_DIR/watcher.pid" ]; then
    pid="$(cat "$DATA_DIR/watcher.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$pid" != "$$" ]; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$DATA_DIR/watcher.pid"
  fi
  for id in $(node_ids); do
    dir="$(node_dir "$id")"
    [ -d "$dir" ] || continue
    pid="$(node_pid "$dir" || true)"
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids="$pids $pid"
    fi
  done
  # SIGTERM all nodes at once (controlled shutdown runs in parallel), then wait for each.
  for pid in $pids; do stop_pid "$pid"; done
  for id in $(node_ids); do rm -f "$(node_dir "$id")/kafka.pid"; done
  if [ -n "$pids" ]; then
    info "stopped$pids (data $DATA_DIR)"
  fi
  return 0
}

cmd_status() {
  parse_opts "$@"
  local id dir pid up=0 port
  if [ ! -f "$DATA_DIR/cluster.env" ]; then
    echo "no cluster in $DATA_DIR"
    exit 3
  fi
  for id in $(seq 1 "$NUM_BROKERS"); do
    dir="$(node_dir "$id")"
    port=$((BASE_PORT + id - 1))
    pid="$(node_pid "$dir" || true)"
    if [ -n "$pid" ] && port_open "$port"; then
      echo "node $id: running pid $pid on 127.0.0.1:$port"
      up=$((up + 1))
    elif [ -n "$pid" ]; then
      echo "node $id: starting pid $pid (127.0.0.1:$port not answering yet)"
    else
      echo "node $id: stopped"
    fi
  done
  echo "brokers: $(broker_list)  (data $DATA_DIR)"
  if [ "$up" -eq "$NUM_BROKERS" ]; then exit 0; elif [ "$up" -eq 0 ]; then exit 3; else exit 1; fi
}

cmd_run() {
  local parent=$PPID
  cmd_start "$@"
  RUN_STOPPING=0
  on_signal() {
    [ "$RUN_STOPPING" -eq 0 ] || return 0
    RUN_STOPPING=1
    cmd_stop --data "$DATA_DIR" >/dev/null 2>&1 || true
    info "stopped (data $DATA_DIR)"
    exit 0
  }
  trap on_signal INT TERM HUP
  trap 'on_signal' EXIT
  info "running in the foreground; Ctrl-C stops the brokers"
  local id alive
  while kill -0 "$parent" 2>/dev/null; do
    alive=0
    for id in $(seq 1 "$NUM_BROKERS"); do
      node_pid "$(node_dir "$id")" >/dev/null && alive=$((alive + 1))
    done
    if [ "$alive" -eq 0 ]; then
      info "all brokers exited (see $DATA_DIR/node-*/server.log)"
      trap - EXIT
      exit 1
    fi
    sleep 1 &
    wait $! || true
  done
  info "parent process $parent exited; stopping"
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    run) cmd_run "$@" ;;
    -h|--help|help) usage ;;
    "") usage; exit 2 ;;
    *) die "unknown command '$cmd' (use fetch, start, stop, status or run)" ;;
  esac
}

main "$@"
