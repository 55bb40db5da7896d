#!/usr/bin/env bash
# Issue 8: the distributed mode end to end. For each executor (noop, kafka)
# and job count, on a fresh keyspace: `dts migrate`, then one job-service, one
# scheduler-service and DIST_WORKERS execution-services against Kafka and
# Cassandra; bench/distributed_bench.cc creates the jobs (every second),
# measures a window and reads the persisted runs back from Cassandra. Then
# the services are stopped and the keyspace dropped. Last, the Cassandra write
# ceiling: bench/cql_bench's prepared INSERTs at high concurrency (our CQL
# client; cassandra-stress is not on Maven Central, see docs/benchmarks.md
# "CQL client (issue 7)"), and every case's persisted runs/s as a ratio of it.
#
#   bash bench/distributed_bench.sh
#
# Kafka and Cassandra must be running (scripts/services.sh), unless
# DIST_SERVICES=own: then this script starts both with scripts/services.sh on
# DTS_KAFKA_PORT / DTS_CASSANDRA_PORT (default 24092 / 24042, never the
# default ports) and stops them on exit. Everything else it started (the dts
# services, the benchmark) is stopped on exit too, also on failure or Ctrl-C.
#
# Knobs (environment, defaults in brackets):
#   BUILD_DIR (build)              Release build with dts, distributed_bench, cql_bench
#   DIST_BUILD (1)                 0: use the binaries in BUILD_DIR as they are
#   KAFKA_BROKERS (127.0.0.1:$DTS_KAFKA_PORT, 9092)
#   CASSANDRA_HOSTS (127.0.0.1:$DTS_CASSANDRA_PORT, 9042)
#   CASSANDRA_USERNAME / CASSANDRA_PASSWORD (cassandra / cassandra)
#   DTS_SHARDS                     passed to the services when set (default 64)
#   DIST_SERVICES (running)        "own": start and stop Kafka and Cassandra here
#   DIST_EXECUTORS ("noop kafka")  DIST_JOBS ("200 500 2000 5000")
#   DIST_SECONDS (20)  DIST_WARMUP (5)  DIST_SETTLE (5)
#   DIST_WORKERS (1)               execution-services
#   DIST_WORKER_CPU (1000000), DIST_WORKER_MEMORY (1000000): worker capacity
#                                  (millicores, MiB), so that capacity is never
#                                  what limits a run of timer or kafka jobs
#   DIST_KAFKA_TOPIC (dts-bench)   topic of the kafka jobs
#   DIST_SCHEDULER_ARGS, DIST_WORKER_ARGS: more flags for the scheduler-service
#                                  (e.g. "--placement spread": with several
#                                  workers, best-fit fills the first one) and the
#                                  execution-services
#   DIST_CEILING (1)               0: skip the write ceiling
#   DIST_CEILING_CONCURRENCY (128) DIST_CEILING_SECONDS (10)
#   DIST_KEEP_LOGS (unset)         a directory to copy the services' logs to
#   DIST_NODETOOL (1)              when Cassandra runs from scripts/services.sh:
#                                  after each case, nodetool tablestats of the
#                                  bench keyspace, system.paxos and system.batches
#                                  (local writes per persisted run, per table) and
#                                  proxyhistograms (coordinator latencies, CAS too)
#
# Output: each case's distributed_bench report, the CPU each process used
# during the case, and a summary table; RESULT lines for scripts/bench.sh:
#   RESULT dist executor=.. jobs=.. persisted_per_s=.. ratio=.. ...
#   RESULT dist-ceiling insert_per_s=..
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"

BUILD_DIR=${BUILD_DIR:-build}
B=$BUILD_DIR
EXECUTORS=${DIST_EXECUTORS:-noop kafka}
JOB_COUNTS=${DIST_JOBS:-200 500 2000 5000}
WINDOW=${DIST_SECONDS:-20}
WARMUP=${DIST_WARMUP:-5}
SETTLE=${DIST_SETTLE:-5}
WORKERS=${DIST_WORKERS:-1}
WORKER_CPU=${DIST_WORKER_CPU:-1000000}
WORKER_MEMORY=${DIST_WORKER_MEMORY:-1000000}
TOPIC=${DIST_KAFKA_TOPIC:-dts-bench}
CEILING=${DIST_CEILING:-1}
CEILING_C=${DIST_CEILING_CONCURRENCY:-128}
CEILING_S=${DIST_CEILING_SECONDS:-10}
USER_=${CASSANDRA_USERNAME:-cassandra}
PASS_=${CASSANDRA_PASSWORD:-cassandra}
SERVICES_MODE=${DIST_SERVICES:-running}

if [[ $SERVICES_MODE == own ]]; then
  export DTS_KAFKA_PORT=${DTS_KAFKA_PORT:-24092}
  export DTS_CASSANDRA_PORT=${DTS_CASSANDRA_PORT:-24042}
  [[ $DTS_KAFKA_PORT != 9092 && $DTS_CASSANDRA_PORT != 9042 ]] ||
    { echo "distributed_bench.sh: DIST_SERVICES=own refuses the default ports 9092/9042" >&2; exit 2; }
fi
KAFKA=${KAFKA_BROKERS:-127.0.0.1:${DTS_KAFKA_PORT:-9092}}
CASSANDRA=${CASSANDRA_HOSTS:-127.0.0.1:${DTS_CASSANDRA_PORT:-9042}}
CASS_HOST=${CASSANDRA%%,*}
CASS_PORT=${CASS_HOST##*:}
CASS_HOST=${CASS_HOST%:*}

log() { printf 'dist-bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dts-dist-bench.XXXXXX")
PIDS=()          # dts services of the current case
BENCH_PID=
STARTED_SERVICES=0
KEYSPACE=

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_services() {
  local pid
  # Workers and scheduler first (they drain), the job service last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}

drop_keyspace() {
  [[ -n $KEYSPACE ]] || return 0
  python3 scripts/cql.py --host "$CASS_HOST" --port "$CASS_PORT" --user "$USER_" --password "$PASS_" \
    --timeout 120 -e "DROP KEYSPACE IF EXISTS $KEYSPACE" >/dev/null 2>&1 ||
    log "could not drop keyspace $KEYSPACE"
  KEYSPACE=
}

cleanup() {
  local rc=$?
  [[ -z $BENCH_PID ]] || stop_pid "$BENCH_PID"
  stop_services
  drop_keyspace
  if [[ $STARTED_SERVICES == 1 ]]; then
    bash scripts/services.sh down all || rc=1
  fi
  if [[ -n ${DIST_KEEP_LOGS:-} ]]; then
    mkdir -p "$DIST_KEEP_LOGS" && cp -r "$WORK"/. "$DIST_KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build and services ----
if [[ ${DIST_BUILD:-1} == 1 ]]; then
  if [[ ! -f $B/build.ninja ]]; then
    cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$B/CMakeCache.txt" ||
    log "warning: $B is not a Release build; figures will be low"
  cmake --build "$B" -j "${JOBS:-$(nproc)}" --target dts distributed_bench cql_bench >&2
fi
for f in dts bench/distributed_bench bench/cql_bench; do [[ -x $B/$f ]] || die "$B/$f is missing"; done
DTS=$(cd "$B" && pwd)/dts

if [[ $SERVICES_MODE == own ]]; then
  STARTED_SERVICES=1
  bash scripts/services.sh up all
fi
STATE_ROOT=$(realpath -m -- "${DTS_SERVICES_DIR:-${TMPDIR:-/tmp}/dts-services}")
# The servers' pids, when scripts/services.sh runs them (for their CPU).
CASS_PID=$(cat "$STATE_ROOT/cassandra-$CASS_PORT/pid" 2>/dev/null || true)
KAFKA_PORT_=${KAFKA%%,*}
KAFKA_PORT_=${KAFKA_PORT_##*:}
KAFKA_PID=$(cat "$STATE_ROOT/kafka-$KAFKA_PORT_/pid" 2>/dev/null || true)
# nodetool ARGS...: Cassandra's nodetool from the server's own jars, through
# its local JMX port (both read from the running server's command line).
NODETOOL=${DIST_NODETOOL:-1}
nodetool() {
  local cmd jflags=() cp jmx
  [[ -n $CASS_PID && -r /proc/$CASS_PID/cmdline ]] || return 1
  mapfile -t jflags < <(tr '\0' '\n' <"/proc/$CASS_PID/cmdline" |
    awk 'prev ~ /^--add-(exports|opens)$/ { print prev; print $0 } { prev = $0 }')
  cp=$(tr '\0' '\n' <"/proc/$CASS_PID/cmdline" | awk 'prev == "-cp" { print; exit } { prev = $0 }')
  jmx=$(tr '\0' '\n' <"/proc/$CASS_PID/cmdline" | sed -n 's/^-Dcassandra.jmx.local.port=//p')
  [[ -n $cp && -n $jmx ]] || return 1
  java "${jflags[@]}" -Dcassandra.logdir="$WORK" -Dlogback.configurationFile=/dev/null -cp "$cp" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$jmx" "$@" 2>/dev/null | grep -v -E '^[0-9:.]+ \[main\] DEBUG'
}
# writes TABLESTATS_OUTPUT: "keyspace.table local_write_count" lines
write_counts() {
  awk '/^Keyspace ?:/ { ks = $NF } /^[[:space:]]+Table: / { t = $2 }
       /^[[:space:]]+Local write count: / { print ks "." t, $NF }' "$1"
}

python3 scripts/cql.py --host "$CASS_HOST" --port "$CASS_PORT" --user "$USER_" --password "$PASS_" \
  --wait 60 -e "SELECT release_version FROM system.local" >/dev/null ||
  die "no Cassandra at $CASS_HOST:$CASS_PORT (scripts/services.sh up, or DIST_SERVICES=own)"
python3 scripts/kafka_probe.py --bootstrap "${KAFKA%%,*}" --timeout 10 >/dev/null ||
  die "no Kafka at $KAFKA (scripts/services.sh up, or DIST_SERVICES=own)"

echo "machine: nproc $(nproc), $(free -m | awk '/^Mem:/ { print $2 " MiB RAM" }'), load $(load)"
echo "kafka $KAFKA, cassandra $CASSANDRA, $WORKERS worker(s), window ${WINDOW}s (warm-up ${WARMUP}s, settle ${SETTLE}s)"

# The environment of every dts service: only our settings (unknown KAFKA_*
# variables would become librdkafka properties).
service_env() {
  local e=(env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "KAFKA_BROKERS=$KAFKA" "CASSANDRA_HOSTS=$CASSANDRA"
           "CASSANDRA_KEYSPACE=$KEYSPACE" "CASSANDRA_USERNAME=$USER_" "CASSANDRA_PASSWORD=$PASS_")
  [[ -z ${DTS_SHARDS:-} ]] || e+=("DTS_SHARDS=$DTS_SHARDS")
  printf '%s\0' "${e[@]}"
}

# start NAME KIND ARGS...: a dts service on port 0; sets its pid in PIDS.
start() {
  local name=$1 kind=$2 dir=$CASE
  shift 2
  local envv=()
  mapfile -d '' envv < <(service_env)
  (cd "$dir" && exec "${envv[@]}" "$DTS" "$kind" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
      --ready-file "$dir/$name.ready" --cassandra-keyspace "$KEYSPACE" "$@") >"$dir/$name.log" 2>&1 &
  PIDS+=("$!")
  eval "PID_${name//-/_}=$!"
}

wait_ready() {
  local name=$1 dir=$CASE pid
  pid=$(eval echo "\$PID_${name//-/_}")
  for _ in $(seq 900); do
    [[ -s $dir/$name.ready ]] && jq -e . "$dir/$name.ready" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -30 "$dir/$name.log" >&2; die "$name exited before it was ready"; }
    sleep 0.1
  done
  tail -30 "$dir/$name.log" >&2
  die "$name not ready after 90 s"
}
addr() { jq -r ".$2" "$CASE/$1.ready"; }

ticks() {  # utime+stime of a pid, in clock ticks (0 if gone)
  if [[ -n $1 && -r /proc/$1/stat ]]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi
}
HZ=$(getconf CLK_TCK)
# Bytes in a topic's log on disk, when Kafka runs from scripts/services.sh.
KAFKA_DATA=
[[ -z $KAFKA_PID || ! -d $STATE_ROOT/kafka-$KAFKA_PORT_/data ]] || KAFKA_DATA=$STATE_ROOT/kafka-$KAFKA_PORT_/data
topic_bytes() {
  [[ -n $KAFKA_DATA ]] || { echo 0; return; }
  find "$KAFKA_DATA" -path "$KAFKA_DATA/$1-*" -name '*.log' -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

SUMMARY=()

# one EXECUTOR JOBS
one() {
  local executor=$1 jobs=$2
  KEYSPACE=dts_dbench_${executor}_${jobs}_$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  CASE=$WORK/case-$executor-$jobs
  rm -rf "$CASE" && mkdir -p "$CASE"
  # The previous case's unprocessed tasks and events stay in the topics; the
  # services' fixed consumer groups would start with them.
  "$B/bench/distributed_bench" --skip-kafka-backlog "$KAFKA" || die "could not move the consumer groups past the backlog"
  echo
  echo "== $executor, $jobs jobs every second ($(date -u +%H:%M:%S), load $(load)), keyspace $KEYSPACE"
  local envv=()
  mapfile -d '' envv < <(service_env)
  "${envv[@]}" "$DTS" migrate --backend cassandra --cassandra-keyspace "$KEYSPACE" >"$CASE/migrate.log" 2>&1 ||
    { cat "$CASE/migrate.log" >&2; die "dts migrate failed"; }

  start job-service job-service
  # shellcheck disable=SC2086  # word-split on purpose
  start scheduler scheduler-service --scheduler-id s1 ${DIST_SCHEDULER_ARGS:-}
  local w names=()
  for ((w = 1; w <= WORKERS; w++)); do
    mkdir -p "$CASE/w$w-data"
    start "w$w" execution-service --worker-id "w$w" --data-dir "$CASE/w$w-data" \
      --worker-cpu "$WORKER_CPU" --worker-memory "$WORKER_MEMORY" ${DIST_WORKER_ARGS:-}
    names+=("w$w")
  done
  wait_ready job-service
  wait_ready scheduler
  for w in "${names[@]}"; do wait_ready "$w"; done
  # Until the scheduler lists every worker READY (heartbeats through Kafka).
  local sched_http ok=0
  sched_http=$(addr scheduler http)
  for _ in $(seq 600); do
    if curl -sf "http://$sched_http/v1/workers" |
        jq -e --argjson n "$WORKERS" '[.workers[]? | select(.state == "READY")] | length >= $n' >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [[ $ok == 1 ]] || { tail -20 "$CASE/scheduler.log" >&2; die "the scheduler never saw $WORKERS READY worker(s)"; }

  local who=(job-service scheduler "${names[@]}" cassandra kafka) pids=() before=() after=() i
  for w in job-service scheduler "${names[@]}"; do pids+=("$(eval echo "\$PID_${w//-/_}")"); done
  pids+=("$CASS_PID" "$KAFKA_PID")
  for i in "${!pids[@]}"; do before[i]=$(ticks "${pids[i]}"); done
  local tasks_before hb_before
  tasks_before=$(topic_bytes dts.tasks)
  hb_before=$(topic_bytes dts.heartbeats)
  if [[ $NODETOOL == 1 ]]; then
    { nodetool tablestats system.paxos system.batches || true; } >"$CASE/tablestats.before"
    nodetool proxyhistograms >/dev/null 2>&1 || true  # resets the recent-latency window
  fi
  local t0 t1 args=()
  args=(--grpc "$(addr job-service grpc)" --cassandra-hosts "$CASSANDRA" --keyspace "$KEYSPACE"
        --user "$USER_" --password "$PASS_" --jobs "$jobs" --seconds "$WINDOW" --warmup "$WARMUP"
        --settle "$SETTLE" --executor "$executor")
  [[ $executor != kafka ]] || args+=(--kafka-topic "$TOPIC")
  t0=$(date +%s.%N)
  "$B/bench/distributed_bench" "${args[@]}" >"$CASE/bench.out" 2>&1 &
  BENCH_PID=$!
  local rc=0
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=
  t1=$(date +%s.%N)
  for i in "${!pids[@]}"; do after[i]=$(ticks "${pids[i]}"); done
  cat "$CASE/bench.out"
  [[ $rc == 0 ]] || { for w in scheduler "${names[@]}"; do tail -20 "$CASE/$w.log" >&2; done; die "distributed_bench failed ($rc)"; }
  local cpu=""
  for i in "${!pids[@]}"; do
    [[ -n ${pids[i]} ]] || continue
    cpu+=$(awk -v a="${after[i]}" -v b="${before[i]}" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v n="${who[i]}" \
      'BEGIN { printf " %s %.2f", n, (a - b) / hz / (t1 - t0) }')
  done
  echo "cores used over the whole run (create, warm-up, window, settle, read):$cpu; load $(load)"
  if [[ -n $KAFKA_DATA ]]; then
    awk -v t0="$t0" -v t1="$t1" -v tb="$tasks_before" -v ta="$(topic_bytes dts.tasks)" \
      -v hb="$hb_before" -v ha="$(topic_bytes dts.heartbeats)" 'BEGIN {
        printf "kafka log bytes written meanwhile: dts.tasks %.1f MB, dts.heartbeats %.1f MB (%.1f MB/s)\n",
          (ta - tb) / 1e6, (ha - hb) / 1e6, (ha - hb) / 1e6 / (t1 - t0) }'
  fi
  # Anything the services reported besides start and stop (run ids masked).
  local errs
  errs=$(for w in scheduler "${names[@]}"; do cat "$CASE/$w.log"; done |
    grep -v -E 'ready: |draining|stopped|^=|^$' || true)
  echo "service log lines besides start/stop: $(grep -c . <<<"$errs" || true)"
  [[ -z $errs ]] || sed -E 's/[0-9a-f]{8}-[0-9a-f-]{27}/<id>/g; s/%[0-9]\|[0-9.]+\|/%|<t>|/' <<<"$errs" |
    sort | uniq -c | sort -rn | head -5 | cut -c1-220
  grep '^RESULT distributed' "$CASE/bench.out" >>"$WORK/results"
  if [[ $NODETOOL == 1 ]] && nodetool tablestats "$KEYSPACE" system.paxos system.batches >"$CASE/tablestats.after" &&
      nodetool proxyhistograms >"$CASE/proxy.out"; then
    # Runs persisted over the whole case (every row of the keyspace).
    local runs
    runs=$(sed -n 's/^read \([0-9]*\) rows.*/\1/p' "$CASE/bench.out")
    echo "Cassandra local writes per persisted run ($runs runs in the keyspace; system tables: delta over the case):"
    awk -v runs="$runs" 'NR == FNR { before[$1] = $2; next }
      { d = $2 - before[$1]; if (d > 0 && runs > 0) printf "  %-40s %9d  %.2f per run\n", $1, d, d / runs }' \
      <(write_counts "$CASE/tablestats.before") <(write_counts "$CASE/tablestats.after")
    echo "coordinator latencies (nodetool proxyhistograms, µs):"
    sed -n '/Percentile/,/Max/p' "$CASE/proxy.out" | sed 's/^/  /'
  fi
  stop_services
  drop_keyspace
}

for executor in $EXECUTORS; do
  for jobs in $JOB_COUNTS; do one "$executor" "$jobs"; done
done

# ---- the write ceiling ----
CEILING_RATE=
if [[ $CEILING == 1 ]]; then
  echo
  echo "== write ceiling: cql_bench prepared INSERT, concurrency $CEILING_C, ${CEILING_S}s ($(date -u +%H:%M:%S), load $(load))"
  "$B/bench/cql_bench" --hosts "$CASSANDRA" --user "$USER_" --password "$PASS_" --op insert \
    --concurrency "$CEILING_C" --seconds "$CEILING_S" | tee "$WORK/ceiling.out"
  CEILING_RATE=$(awk '$1 == "insert" { print $2 }' "$WORK/ceiling.out")
  echo "RESULT dist-ceiling insert_per_s=$CEILING_RATE concurrency=$CEILING_C"
fi

# ---- summary ----
f() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
echo
echo "== summary (load $(load)); goals: >= 3,000 persisted runs/s, >= 0.5x the write ceiling"
{
  echo "executor|jobs|persisted/s|completed/s|planned/s|ratio to ceiling|fire lag p50/p99 ms|persist lag p50/p99 ms|start lateness p50/p99/max ms|scheduled/due|not started"
  echo "---|---|---|---|---|---|---|---|---|---|---"
  while read -r line; do
    rate=$(f persisted_per_s "$line")
    ratio=n/a
    [[ -z $CEILING_RATE ]] || ratio=$(awk -v r="$rate" -v c="$CEILING_RATE" 'BEGIN { printf "%.3f", r / c }')
    echo "$(f executor "$line")|$(f jobs "$line")|$rate|$(f completed_per_s "$line")|$(f planned_per_s "$line")|$ratio|$(f fire_p50_ms "$line") / $(f fire_p99_ms "$line")|$(f persist_p50_ms "$line") / $(f persist_p99_ms "$line")|$(f late_p50_ms "$line") / $(f late_p99_ms "$line") / $(f late_max_ms "$line")|$(f scheduled "$line")/$(f expected "$line")|$(f not_started "$line")"
    echo "RESULT dist executor=$(f executor "$line") jobs=$(f jobs "$line") persisted_per_s=$rate completed_per_s=$(f completed_per_s "$line") ratio=$ratio late_p99_ms=$(f late_p99_ms "$line") persist_p99_ms=$(f persist_p99_ms "$line")" >>"$WORK/dist-results"
  done <"$WORK/results"
} | column -t -s '|' -o ' | '
[[ ! -f $WORK/dist-results ]] || cat "$WORK/dist-results"
