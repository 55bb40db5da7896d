#!/usr/bin/env bash
# Real single-node Apache Kafka (KRaft, combined broker+controller) and Apache
# Cassandra on loopback, for development and CI. No Docker, no fakes.
#
#   scripts/services.sh up|down|status [kafka|cassandra|all]      (default: all)
#   scripts/services.sh restart cassandra|kafka
#       stops the running server and starts it again on the same data (for
#       tests of client reconnects; `down` + `up` would delete the data).
#   scripts/services.sh run [kafka|cassandra|all] -- CMD [ARGS...]
#       brings the services up, runs CMD, then stops the services that this
#       call started (also when CMD fails) and exits with CMD's status.
#
# Artifacts come from Maven Central through Maven (scripts/kafka/pom.xml,
# scripts/cassandra/pom.xml) and are cached, so a second `up` needs no network.
#
# Environment knobs (defaults in brackets):
#   DTS_CACHE_DIR               download cache [~/.cache/dts]
#   DTS_SERVICES_DIR            state root: pid files, data, logs [${TMPDIR:-/tmp}/dts-services]
#                               (one sub-dir per instance: kafka-<port>, cassandra-<port>)
#   DTS_KAFKA_PORT              Kafka client listener [9092]
#   DTS_KAFKA_CONTROLLER_PORT   KRaft controller listener [DTS_KAFKA_PORT+1]
#   DTS_CASSANDRA_PORT          CQL native port [9042]
#   DTS_CASSANDRA_STORAGE_PORT  inter-node storage port [DTS_CASSANDRA_PORT-2042, i.e. 7000]
#   DTS_CASSANDRA_JMX_PORT      local-only JMX port [DTS_CASSANDRA_PORT-1843, i.e. 7199]
#   DTS_SERVICES_TIMEOUT        readiness timeout per service, seconds [240]
#   CASSANDRA_USERNAME, CASSANDRA_PASSWORD
#                               credentials for the readiness probe [cassandra/cassandra]:
#                               Cassandra runs PasswordAuthenticator, whose default
#                               superuser is cassandra/cassandra
#   DTS_JAVA_HOME               JDK 17 to run both servers [/usr/lib/jvm/java-17-openjdk-amd64,
#                               else JAVA_HOME, else java on PATH]
#
# Cassandra also takes TLS on its native port (client_encryption_options with
# optional: true, so plain and TLS clients share the port). Its throw-away CA
# and node certificate (SAN IP:127.0.0.1, DNS:localhost) are made at `up` in
# <state dir>/cassandra-<port>/tls/: ca.pem for clients to trust, and a
# client.pem/client.key pair signed by the same CA.
#
# Everything binds 127.0.0.1. Heaps: Kafka 512 MiB max, Cassandra 1 GiB max.
# `up` returns once Kafka answers a Metadata request listing a broker and once
# Cassandra answers CQL STARTUP + SELECT release_version FROM system.local; on a
# timeout it prints the tail of the server log and exits non-zero. `down` stops
# only what `up` started (pid file, whole process group) and deletes its data.
set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

CACHE_DIR=${DTS_CACHE_DIR:-$HOME/.cache/dts}
STATE_ROOT=$(realpath -m -- "${DTS_SERVICES_DIR:-${TMPDIR:-/tmp}/dts-services}")
KAFKA_PORT=${DTS_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${DTS_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
CASS_PORT=${DTS_CASSANDRA_PORT:-9042}
CASS_STORAGE_PORT=${DTS_CASSANDRA_STORAGE_PORT:-$((CASS_PORT - 2042))}
CASS_JMX_PORT=${DTS_CASSANDRA_JMX_PORT:-$((CASS_PORT - 1843))}
TIMEOUT=${DTS_SERVICES_TIMEOUT:-240}
HOST=127.0.0.1

KAFKA_DIR=$STATE_ROOT/kafka-$KAFKA_PORT
CASS_DIR=$STATE_ROOT/cassandra-$CASS_PORT

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

check_port_value() {
  local name=$1 value=$2
  [[ $value =~ ^[0-9]+$ ]] && ((value >= 1024 && value <= 65535)) ||
    die "$name=$value is not a port in 1024..65535 (set it explicitly)"
}

# ---------------------------------------------------------------- java -----

find_java() {
  local candidates=()
  [[ -n ${DTS_JAVA_HOME:-} ]] && candidates+=("$DTS_JAVA_HOME/bin/java")
  local d
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-*; do
    [[ -x $d/bin/java ]] && candidates+=("$d/bin/java")
  done
  [[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  local j major
  for j in "${candidates[@]}"; do
    [[ -x $j ]] || continue
    major=$("$j" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java\.specification\.version = //p')
    if [[ $major == 17 ]]; then
      JAVA=$j
      return 0
    fi
  done
  die "no JDK 17 found (Cassandra 5.0 runs on 11 or 17): install openjdk-17-jdk-headless or set DTS_JAVA_HOME"
}

# ------------------------------------------------------------ artifacts ----

# fetch_libs NAME POM: resolves the pom's dependencies into a cached lib dir
# keyed by the pom's content; prints that dir. No Maven run when cached.
fetch_libs() {
  local name=$1 pom=$2 key libdir
  key=$(sha1sum "$pom" | cut -c1-12)
  libdir=$CACHE_DIR/$name-$key
  if [[ -f $libdir/.complete ]]; then
    echo "$libdir"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  (
    flock 8
    if [[ ! -f $libdir/.complete ]]; then
      command -v mvn >/dev/null 2>&1 || die "maven (mvn) not found: apt-get install maven"
      log "$name: resolving artifacts with Maven into $libdir (first run only)"
      rm -rf "$libdir.tmp"
      if ! mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$CACHE_DIR/m2" -f "$pom" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$libdir.tmp/libs" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
        rm -rf "$libdir.tmp"
        die "$name: Maven could not resolve $pom (see the error above)"
      fi
      touch "$libdir.tmp/.complete"
      rm -rf "$libdir"
      mv "$libdir.tmp" "$libdir"
    fi
  ) 8>"$CACHE_DIR/.fetch.lock" 1>&2
  echo "$libdir"
}

# ------------------------------------------------------------ processes ----

# is_ours DIR: the pid in DIR/pid is alive, not a zombie, and is the server
# that `up` started there (its command line names DIR).
is_ours() {
  local dir=$1 pid state
  [[ -f $dir/pid ]] || return 1
  pid=$(<"$dir/pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
  [[ $state != Z ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "-Ddts.service.dir=$dir"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# stop_dir NAME DIR: TERM the process group, wait, KILL if needed, delete DIR.
stop_dir() {
  local name=$1 dir=$2
  stop_process "$name" "$dir"
  if [[ -d $dir ]]; then
    rm -rf "$dir"
    log "$name: stopped, removed $dir"
  else
    log "$name: not running"
  fi
}

# stop_process NAME DIR: TERM the process group, wait, KILL if needed; keeps DIR.
stop_process() {
  local name=$1 dir=$2 pid i
  if is_ours "$dir"; then
    pid=$(<"$dir/pid")
    log "$name: stopping pid $pid"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      is_ours "$dir" || break
      sleep 0.1
    done
    if is_ours "$dir"; then
      log "$name: still running after 30 s, sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        is_ours "$dir" || break
        sleep 0.1
      done
      is_ours "$dir" && die "$name: pid $pid survived SIGKILL"
    fi
    # Give init a moment to reap the (re-parented) exited process.
    for ((i = 0; i < 50; i++)); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
  fi
}

# launch DIR CMD...: starts CMD detached in its own session/process group with
# all output to DIR/logs/stdout.log; writes DIR/pid.
launch() {
  local dir=$1
  shift
  # setsid execs in place (the shell's child is no group leader), so $! is the
  # java pid and the leader of its own process group. Close fds 8/9 (locks).
  setsid "$@" </dev/null >>"$dir/logs/stdout.log" 2>&1 8>&- 9>&- &
  echo $! >"$dir/pid"
}

# wait_ready NAME DIR LOG PROBE...: polls PROBE until it succeeds, the server
# dies or TIMEOUT passes. On failure prints the log tail and stops the server.
wait_ready() {
  local name=$1 dir=$2 logfile=$3
  shift 3
  local start=$SECONDS out
  while true; do
    if out=$("$@" 2>&1); then
      log "$name: ready after $((SECONDS - start)) s: $(head -n1 <<<"$out")"
      return 0
    fi
    if ! is_ours "$dir"; then
      log "$name: server exited during start-up; last lines of $logfile:"
      tail -n 60 "$logfile" >&2 || true
      tail -n 20 "$dir/logs/stdout.log" >&2 2>/dev/null || true
      rm -f "$dir/pid"
      return 1
    fi
    if ((SECONDS - start >= TIMEOUT)); then
      log "$name: not ready after ${TIMEOUT} s (last probe: $out); last lines of $logfile:"
      tail -n 60 "$logfile" >&2 || true
      stop_server_keep_logs "$name" "$dir"
      return 1
    fi
    sleep 1
  done
}

stop_server_keep_logs() {
  local name=$1 dir=$2 pid
  pid=$(<"$dir/pid")
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/pid"
  log "$name: killed; logs kept in $dir/logs (removed by the next up or down)"
}

# --------------------------------------------------------------- kafka -----

kafka_probe() {
  python3 "$SCRIPT_DIR/kafka_probe.py" --bootstrap "$HOST:$KAFKA_PORT" --timeout 5
}

# kafka_start [keep]: with `keep`, reuses the state dir (data, logs) of a
# stopped instance and its formatted storage instead of starting afresh.
kafka_start() {
  local dir=$KAFKA_DIR libdir cluster_id keep=${1:-}
  if is_ours "$dir"; then
    log "kafka: already running (pid $(<"$dir/pid")) on $HOST:$KAFKA_PORT"
    return 0
  fi
  check_port_value DTS_KAFKA_PORT "$KAFKA_PORT"
  check_port_value DTS_KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
  [[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] || die "kafka: client and controller ports are equal"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_busy "$p" && die "kafka: port $HOST:$p is already in use by another process"
  done
  find_java
  libdir=$(fetch_libs kafka "$SCRIPT_DIR/kafka/pom.xml")
  [[ $keep == keep && -f $dir/data/meta.properties ]] || keep=
  [[ $keep == keep ]] || rm -rf "$dir"
  mkdir -p "$dir/conf" "$dir/data" "$dir/logs" "$dir/tmp"

  cat >"$dir/conf/server.properties" <<EOF
# Generated by scripts/services.sh: single-node KRaft, broker and controller in one process.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF

  cat >"$dir/conf/log4j2.properties" <<EOF
name=dts-kafka
appender.file.type=File
appender.file.name=FILE
appender.file.fileName=$dir/logs/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.authorizer.name=kafka.authorizer.logger
logger.authorizer.level=WARN
EOF

  cluster_id=$(python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break')

  local common=(-Djava.io.tmpdir="$dir/tmp" -Djava.awt.headless=true
    -Djava.net.preferIPv4Stack=true -Dlog4j2.configurationFile="$dir/conf/log4j2.properties"
    -Dkafka.logs.dir="$dir/logs" -cp "$libdir/libs/*")
  if [[ $keep != keep ]] && ! "$JAVA" -Xmx256m "${common[@]}" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$dir/conf/server.properties" >"$dir/logs/format.log" 2>&1; then
    cat "$dir/logs/format.log" >&2
    die "kafka: formatting the KRaft storage failed"
  fi

  launch "$dir" "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Ddts.service.dir="$dir" "${common[@]}" \
    kafka.Kafka "$dir/conf/server.properties"
  log "kafka: started pid $(<"$dir/pid") on $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), state in $dir"
}

kafka_wait() {
  wait_ready kafka "$KAFKA_DIR" "$KAFKA_DIR/logs/server.log" kafka_probe
}

# ----------------------------------------------------------- cassandra -----

# cassandra_tls DIR: a CA, the node's key and certificate in a PKCS12
# keystore for Cassandra, and a client certificate, all under DIR/tls.
CASS_KEYSTORE_PASSWORD=dts-dev-keystore
cassandra_tls() {
  local d=$1/tls
  [[ -f $d/keystore.p12 ]] && return 0
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dts-dev-ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca.key -out ca.pem
    local who
    for who in node client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=dts-dev-$who" -keyout "$who.key" -out "$who.csr"
      printf 'subjectAltName=IP:%s,DNS:localhost\n' "$HOST" >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$who.ext" -out "$who.pem"
    done
    openssl pkcs12 -export -in node.pem -inkey node.key -certfile ca.pem -name node \
      -out keystore.p12 -passout "pass:$CASS_KEYSTORE_PASSWORD"
  ) >"$1/logs/tls.log" 2>&1 || { cat "$1/logs/tls.log" >&2; die "cassandra: cannot make the TLS files"; }
}

cassandra_probe() {
  python3 "$SCRIPT_DIR/cql.py" --host "$HOST" --port "$CASS_PORT" --timeout 10 \
    --user "${CASSANDRA_USERNAME:-cassandra}" --password "${CASSANDRA_PASSWORD:-cassandra}" \
    -e "SELECT release_version FROM system.local"
}

# cassandra_start [keep]: with `keep`, reuses the state dir (data, logs) of a
# stopped instance instead of starting afresh.
cassandra_start() {
  local dir=$CASS_DIR libdir jamm keep=${1:-}
  if is_ours "$dir"; then
    log "cassandra: already running (pid $(<"$dir/pid")) on $HOST:$CASS_PORT"
    return 0
  fi
  check_port_value DTS_CASSANDRA_PORT "$CASS_PORT"
  check_port_value DTS_CASSANDRA_STORAGE_PORT "$CASS_STORAGE_PORT"
  check_port_value DTS_CASSANDRA_JMX_PORT "$CASS_JMX_PORT"
  [[ $(printf '%s\n' "$CASS_PORT" "$CASS_STORAGE_PORT" "$CASS_JMX_PORT" | sort -u | wc -l) == 3 ]] ||
    die "cassandra: native, storage and JMX ports must differ"
  local p
  for p in "$CASS_PORT" "$CASS_STORAGE_PORT" "$CASS_JMX_PORT"; do
    port_busy "$p" && die "cassandra: port $HOST:$p is already in use by another process"
  done
  find_java
  libdir=$(fetch_libs cassandra "$SCRIPT_DIR/cassandra/pom.xml")
  jamm=$(find "$libdir/libs" -name 'jamm-*.jar' | head -n1)
  [[ -n $jamm ]] || die "cassandra: jamm agent jar missing from $libdir/libs"
  [[ $keep == keep ]] || rm -rf "$dir"
  mkdir -p "$dir/conf/triggers" "$dir/data" "$dir/logs" "$dir/tmp"
  cassandra_tls "$dir"

  cat >"$dir/conf/cassandra.yaml" <<EOF
# Generated by scripts/services.sh: one node, one token, loopback only.
cluster_name: dts-dev
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
auto_bootstrap: false
authenticator: PasswordAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
data_file_directories:
  - $dir/data/data
commitlog_directory: $dir/data/commitlog
saved_caches_directory: $dir/data/saved_caches
hints_directory: $dir/data/hints
cdc_raw_directory: $dir/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$HOST:$CASS_STORAGE_PORT"
listen_address: $HOST
rpc_address: $HOST
storage_port: $CASS_STORAGE_PORT
native_transport_port: $CASS_PORT
start_native_transport: true
endpoint_snitch: SimpleSnitch
concurrent_compactors: 1
auto_snapshot: false
snapshot_before_compaction: false
hinted_handoff_enabled: false
dynamic_snitch: false
client_encryption_options:
  enabled: true
  optional: true
  keystore: $dir/tls/keystore.p12
  keystore_password: $CASS_KEYSTORE_PASSWORD
  require_client_auth: false
EOF

  cat >"$dir/conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.FileAppender">
    <file>$dir/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <root level="INFO"><appender-ref ref="SYSTEMLOG"/></root>
</configuration>
EOF

  # Flags follow the distribution's jvm-server.options and jvm17-server.options.
  local jvm=(-Xms1024m -Xmx1024m -Xss256k -XX:+UseG1GC -XX:+ParallelRefProcEnabled
    -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m -XX:MaxGCPauseMillis=300
    -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
    -ea -da:net.openhft... -Djava.net.preferIPv4Stack=true -Djava.io.tmpdir="$dir/tmp"
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    -javaagent:"$jamm"
    # Fast single-node start-up: no gossip settling, short ring delay, no fsync
    # (the data is throw-away), no saved ring state.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.load_ring_state=false
    -Dcassandra.skip_sync=true
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.jmx.local.port="$CASS_JMX_PORT"
    -Dcassandra-foreground=yes
    -Dcassandra.config="file://$dir/conf/cassandra.yaml"
    -Dcassandra.storagedir="$dir/data"
    -Dcassandra.logdir="$dir/logs"
    -Dcassandra.triggers_dir="$dir/conf/triggers"
    -Dlogback.configurationFile="$dir/conf/logback.xml"
    -Ddts.service.dir="$dir")

  launch "$dir" "$JAVA" "${jvm[@]}" -cp "$libdir/libs/*" org.apache.cassandra.service.CassandraDaemon
  log "cassandra: started pid $(<"$dir/pid") on $HOST:$CASS_PORT (storage $CASS_STORAGE_PORT, jmx $CASS_JMX_PORT), state in $dir"
}

cassandra_wait() {
  wait_ready cassandra "$CASS_DIR" "$CASS_DIR/logs/system.log" cassandra_probe
}

kafka_restart() {
  is_ours "$KAFKA_DIR" || die "kafka: not running on $HOST:$KAFKA_PORT (use up)"
  stop_process kafka "$KAFKA_DIR"
  rm -f "$KAFKA_DIR/pid"
  kafka_start keep
}

cassandra_restart() {
  is_ours "$CASS_DIR" || die "cassandra: not running on $HOST:$CASS_PORT (use up)"
  stop_process cassandra "$CASS_DIR"
  rm -f "$CASS_DIR/pid"
  cassandra_start keep
}

# ------------------------------------------------------------- commands ----

status_one() {
  local name=$1 dir=$2 port=$3 probe=$4 out
  if is_ours "$dir"; then
    if out=$($probe 2>&1); then
      echo "$name: running, ready (pid $(<"$dir/pid"), $HOST:$port): $(head -n1 <<<"$out")"
      return 0
    fi
    echo "$name: running, not ready (pid $(<"$dir/pid"), $HOST:$port)"
    return 1
  fi
  echo "$name: stopped ($HOST:$port)"
  return 1
}

# with_lock NAME CMD...: serialises up/down of one instance.
with_lock() {
  local name=$1
  shift
  mkdir -p "$STATE_ROOT"
  (
    flock 9
    "$@"
  ) 9>"$STATE_ROOT/.$name.lock"
}

up_all() {
  local targets=("$@") rc=0 t
  command -v python3 >/dev/null 2>&1 || die "python3 is required for the readiness probes"
  # Start everything first, then wait: the JVMs boot in parallel.
  for t in "${targets[@]}"; do with_lock "$t" "${t}_start"; done
  for t in "${targets[@]}"; do "${t}_wait" || rc=1; done
  return $rc
}

down_one() {
  case $1 in
    kafka) with_lock kafka stop_dir kafka "$KAFKA_DIR" ;;
    cassandra) with_lock cassandra stop_dir cassandra "$CASS_DIR" ;;
  esac
}

# run SERVICES -- CMD...: up, run CMD, down what this call started.
run_with() {
  local started=() s rc=0
  while [[ $# -gt 0 && $1 != -- ]]; do shift; done
  [[ ${1:-} == -- ]] && shift
  [[ $# -gt 0 ]] || usage
  for s in "${services[@]}"; do
    if [[ $s == kafka ]] && ! is_ours "$KAFKA_DIR"; then started+=(kafka); fi
    if [[ $s == cassandra ]] && ! is_ours "$CASS_DIR"; then started+=(cassandra); fi
  done
  # shellcheck disable=SC2064
  trap "for s in ${started[*]:-}; do down_one \$s || true; done" EXIT
  trap 'exit 130' INT TERM
  up_all "${services[@]}" || return 1
  "$@" || rc=$?
  return $rc
}

cmd=${1:-}
which=${2:-all}
[[ $cmd == run && $which == -- ]] && which=all
case $which in
  all) services=(kafka cassandra) ;;
  kafka | cassandra) services=("$which") ;;
  *) usage ;;
esac

case $cmd in
  up) up_all "${services[@]}" ;;
  restart)
    [[ $which == cassandra || $which == kafka ]] || usage
    with_lock "$which" "${which}_restart"
    "${which}_wait"
    ;;
  run)
    shift
    run_with "$@" || exit $?
    ;;
  down) for s in "${services[@]}"; do down_one "$s"; done ;;
  status)
    rc=0
    for s in "${services[@]}"; do
      if [[ $s == kafka ]]; then status_one kafka "$KAFKA_DIR" "$KAFKA_PORT" kafka_probe || rc=3; fi
      if [[ $s == cassandra ]]; then status_one cassandra "$CASS_DIR" "$CASS_PORT" cassandra_probe || rc=3; fi
    done
    exit $rc
    ;;
  *) usage ;;
esac
