#!/usr/bin/env bash
# Issue 7: our CQL client (bench/cql_bench.cc, dts_cql) against the Apache
# Cassandra Java driver 4.19 (bench/cassandra/CqlDriverBench.java, the same
# load) on the same Cassandra, at the same concurrency levels. cassandra-stress
# is not on Maven Central, so the Java driver is the reference. Prints one table
# (ops/s, p50, p99 per op and concurrency, ours vs the driver, the ratio
# against the goal of 0.8×) and RESULT lines for scripts/bench.sh.
#
#   bash bench/cassandra/run.sh
#
# By default it starts its own Cassandra 5.0.9 with scripts/services.sh on
# ports 19042 (CQL), 17000 (storage) and 17199 (JMX), never 9042, and stops it
# on exit (also on failure or Ctrl-C). It refuses to start if something
# already listens on that port. Knobs (environment):
#   BUILD_DIR (build)            where cql_bench is built (Release; configured if missing)
#   DTS_CASSANDRA_PORT (19042)   CQL port of the instance this script starts
#   DTS_CASSANDRA_STORAGE_PORT (port - 2042), DTS_CASSANDRA_JMX_PORT (port - 1843)
#   CQL_HOSTS                    use this running Cassandra (host:port) instead
#                                of starting one; it is not stopped
#   CASSANDRA_USERNAME / CASSANDRA_PASSWORD (cassandra / cassandra)
#   CQL_CONCURRENCY ("1 32 128")  CQL_SECONDS (10 per phase)  CQL_KEYS (100000)
#   CQL_ROUNDS (2): each round runs both tools at every level, ours first in
#                   odd rounds and the driver first in even ones; the table
#                   keeps, per tool, op and level, the round with the most ops/s
#   CQL_JAVA_WARMUP (5): seconds of unmeasured insert and of select the driver
#                   runs on a separate table before its measured phases (JIT)
#   CQL_SERVER_WARMUP (10): seconds of unmeasured cql_bench load (c=32) on a
#                   fresh server before anything is measured (the server's JIT)
#   DTS_CACHE_DIR (~/.cache/dts): the driver's jars go to
#                   $DTS_CACHE_DIR/cql-driver-bench-<pom hash>/libs, Maven's
#                   repository to $DTS_CACHE_DIR/m2 (as scripts/services.sh)
# Exit status: 0 when every run completed without a failed call, else non-zero
# (a ratio under 0.8 is a result, not a failure).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

BUILD_DIR=${BUILD_DIR:-build}
CONCURRENCY=${CQL_CONCURRENCY:-1 32 128}
SECONDS_PER_PHASE=${CQL_SECONDS:-10}
KEYS=${CQL_KEYS:-100000}
ROUNDS=${CQL_ROUNDS:-2}
JAVA_WARMUP=${CQL_JAVA_WARMUP:-5}
SERVER_WARMUP=${CQL_SERVER_WARMUP:-10}
USER_=${CASSANDRA_USERNAME:-cassandra}
PASS_=${CASSANDRA_PASSWORD:-cassandra}
CACHE_DIR=${DTS_CACHE_DIR:-$HOME/.cache/dts}
export DTS_CASSANDRA_PORT=${DTS_CASSANDRA_PORT:-19042}
export DTS_CASSANDRA_STORAGE_PORT=${DTS_CASSANDRA_STORAGE_PORT:-$((DTS_CASSANDRA_PORT - 2042))}
export DTS_CASSANDRA_JMX_PORT=${DTS_CASSANDRA_JMX_PORT:-$((DTS_CASSANDRA_PORT - 1843))}
[[ $DTS_CASSANDRA_PORT != 9042 || -n ${CQL_HOSTS:-} ]] ||
  { echo "run.sh: refusing port 9042 (CI's Cassandra); pick another DTS_CASSANDRA_PORT" >&2; exit 2; }

log() { printf 'cql-bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dts-cql-bench.XXXXXX")
STARTED_CASSANDRA=0
CHILD=
cleanup() {
  local rc=$?
  if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  if [[ $STARTED_CASSANDRA == 1 ]]; then
    bash scripts/services.sh down cassandra || rc=1
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_bg CMD...: runs CMD in the background (so that cleanup can stop it) and
# waits for it; returns its status.
run_bg() {
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}

# ---- the two clients ----
command -v java >/dev/null && command -v javac >/dev/null || die "java/javac not found (openjdk-17-jdk-headless)"
if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD_DIR/CMakeCache.txt" ||
  log "warning: $BUILD_DIR is not a Release build; our figures will be low"
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target cql_bench >&2
CQL_BENCH=$BUILD_DIR/bench/cql_bench

key=$(sha1sum "$HERE/pom.xml" | cut -c1-12)
LIBDIR=$CACHE_DIR/cql-driver-bench-$key
if [[ ! -f $LIBDIR/.complete ]]; then
  command -v mvn >/dev/null || die "maven (mvn) not found: apt-get install maven"
  mkdir -p "$CACHE_DIR"
  (
    flock 8
    if [[ ! -f $LIBDIR/.complete ]]; then
      log "resolving the Java driver with Maven into $LIBDIR (first run only)"
      rm -rf "$LIBDIR.tmp"
      mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$CACHE_DIR/m2" -f "$HERE/pom.xml" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBDIR.tmp/libs" >&2 ||
        { rm -rf "$LIBDIR.tmp"; die "Maven could not resolve $HERE/pom.xml"; }
      touch "$LIBDIR.tmp/.complete"
      rm -rf "$LIBDIR"
      mv "$LIBDIR.tmp" "$LIBDIR"
    fi
  ) 8>"$CACHE_DIR/.fetch.lock"
fi
mkdir -p "$WORK/classes"
javac -nowarn -cp "$LIBDIR/libs/*" -d "$WORK/classes" "$HERE/CqlDriverBench.java"
JAVA_CP="$WORK/classes:$LIBDIR/libs/*"

# ---- Cassandra ----
if [[ -n ${CQL_HOSTS:-} ]]; then
  HOSTS=$CQL_HOSTS
  SERVER_PID=
else
  if (exec 3<>"/dev/tcp/127.0.0.1/$DTS_CASSANDRA_PORT") 2>/dev/null; then
    die "port $DTS_CASSANDRA_PORT is in use; set DTS_CASSANDRA_PORT (or CQL_HOSTS to use that server)"
  fi
  STARTED_CASSANDRA=1
  bash scripts/services.sh up cassandra
  HOSTS=127.0.0.1:$DTS_CASSANDRA_PORT
  SERVER_PID=$(cat "$(realpath -m -- "${DTS_SERVICES_DIR:-${TMPDIR:-/tmp}/dts-services}")/cassandra-$DTS_CASSANDRA_PORT/pid" 2>/dev/null || true)
fi
COMMON=(--hosts "$HOSTS" --user "$USER_" --password "$PASS_" --seconds "$SECONDS_PER_PHASE" --keys "$KEYS")

server_ticks() {
  if [[ -n $SERVER_PID && -r /proc/$SERVER_PID/stat ]]; then
    sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'
  else
    echo 0
  fi
}
HZ=$(getconf CLK_TCK)

# one TOOL C ROUND: runs one tool at one level; output in $WORK/TOOL-C-ROUND.out,
# "elapsed client_cpu_s server_cpu_s" in .cpu.
one() {
  local tool=$1 c=$2 r=$3 out=$WORK/$1-$2-$3 before after
  log "round $r: $tool, concurrency $c (load $(cut -d' ' -f1-3 /proc/loadavg))"
  before=$(server_ticks)
  local cmd
  if [[ $tool == ours ]]; then
    cmd=("$CQL_BENCH" "${COMMON[@]}" --concurrency "$c")
  else
    cmd=(java -cp "$JAVA_CP" CqlDriverBench "${COMMON[@]}" --concurrency "$c" --warmup-seconds "$JAVA_WARMUP")
  fi
  if ! run_bg /usr/bin/time -f '%e %U %S' -o "$out.time" "${cmd[@]}" >"$out.out" 2>"$out.err"; then
    cat "$out.out" "$out.err" >&2
    die "$tool failed at concurrency $c (round $r)"
  fi
  after=$(server_ticks)
  cat "$out.out"
  read -r e u s <"$out.time"
  awk -v e="$e" -v u="$u" -v s="$s" -v b="$before" -v a="$after" -v hz="$HZ" \
    'BEGIN { printf "%s %.2f %.2f\n", e, u + s, (a - b) / hz }' >"$out.cpu"
  local errs
  errs=$(awk '$1 == "insert" || $1 == "select" { for (i = 1; i < NF; i++) if ($i == "errors") s += $(i + 1) } END { print s + 0 }' "$out.out")
  [[ $errs == 0 ]] || die "$tool had $errs failed calls at concurrency $c (round $r)"
  for op in insert select; do
    grep -q "^$op " "$out.out" || die "$tool printed no $op line at concurrency $c"
  done
}

if [[ $SERVER_WARMUP -gt 0 ]]; then
  log "warming the server up: cql_bench, concurrency 32, ${SERVER_WARMUP}s per phase (not measured)"
  run_bg "$CQL_BENCH" --hosts "$HOSTS" --user "$USER_" --password "$PASS_" --seconds "$SERVER_WARMUP" \
    --keys "$KEYS" --concurrency 32 >"$WORK/warmup.out" 2>&1 || { cat "$WORK/warmup.out" >&2; die "warm-up failed"; }
fi

for ((r = 1; r <= ROUNDS; r++)); do
  for c in $CONCURRENCY; do
    if ((r % 2 == 1)); then one ours "$c" "$r"; one java "$c" "$r"; else one java "$c" "$r"; one ours "$c" "$r"; fi
  done
done

# ---- the table ----
# best TOOL C OP: "ops p50 p99 round" of the round with the most ops/s
best() {
  local tool=$1 c=$2 op=$3 r line bestline="" bestops=-1 ops
  for ((r = 1; r <= ROUNDS; r++)); do
    line=$(awk -v op="$op" '$1 == op { for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) }
      print $2, p50, p99 }' "$WORK/$tool-$c-$r.out")
    ops=${line%% *}
    if awk -v a="$ops" -v b="$bestops" 'BEGIN { exit !(a > b) }'; then bestops=$ops; bestline="$line $r"; fi
  done
  echo "$bestline"
}
echo
echo "CQL prepared INSERT/SELECT, ${SECONDS_PER_PHASE}s per phase, $KEYS keys, consistency ONE, best of $ROUNDS round(s); $HOSTS"
echo "ours = bench/cql_bench (dts_cql), driver = Apache Java driver 4.19 (protocol v4); latencies in µs"
{
  echo "op|concurrency|ours ops/s|ours p50|ours p99|driver ops/s|driver p50|driver p99|ours / driver|goal|verdict"
  echo "---|---|---|---|---|---|---|---|---|---|---"
  for op in insert select; do
    for c in $CONCURRENCY; do
      read -r oo op50 op99 _ <<<"$(best ours "$c" "$op")"
      read -r jo jp50 jp99 _ <<<"$(best java "$c" "$op")"
      ratio=$(awk -v a="$oo" -v b="$jo" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
      verdict=$(awk -v v="$ratio" 'BEGIN { if (v == "n/a") print "?"; else print (v + 0 >= 0.8) ? "met" : "MISSED" }')
      echo "$op|$c|$oo|$op50|$op99|$jo|$jp50|$jp99|${ratio}×|≥ 0.8×|$verdict"
      echo "RESULT cql op=$op c=$c ours=$oo ours_p50=$op50 ours_p99=$op99 driver=$jo driver_p50=$jp50 driver_p99=$jp99 ratio=$ratio" >>"$WORK/results"
    done
  done
} | column -t -s '|' -o ' | '
echo
echo "CPU per run (both phases; the driver's run includes its ${JAVA_WARMUP}s+${JAVA_WARMUP}s warm-up and JVM start), cores = CPU-s / wall s:"
for ((r = 1; r <= ROUNDS; r++)); do
  for c in $CONCURRENCY; do
    for tool in ours java; do
      read -r e cl sv <"$WORK/$tool-$c-$r.cpu"
      awk -v t="$tool" -v c="$c" -v r="$r" -v e="$e" -v cl="$cl" -v sv="$sv" \
        'BEGIN { printf "  round %d c=%-4s %-5s wall %5.1fs  client %5.1f CPU-s (%.2f cores)  server %5.1f CPU-s (%.2f cores)\n",
                 r, c, t, e, cl, cl / e, sv, sv / e }'
    done
  done
done
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc))"
cat "$WORK/results"
