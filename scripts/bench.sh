#!/usr/bin/env bash
# The benchmark suite (`make bench`): builds what it needs, runs every
# benchmark, and prints one summary table at the end. docs/benchmarks.md
# explains the method and holds the recorded figures.
#
#   1. cron_bench            next()/parse of the cron library; bench/peers: the
#                            same cases on robfig/cron, gorhill/cronexpr, croniter
#   2. engine_bench          due index and Engine::FireDue, 1M jobs, one core
#   3. store_bench, e2e_bench  the SQLite store's cost per fire; `dts server`
#                            firing 10k noop jobs every second
#   4. QuartzBench           Quartz 2 RAMJobStore, 2 threads: the same two shapes
#   5. wrk / grpc_load       API load on `dts server`, and bare Beast (http_hello)
#   6. bench/cassandra/run.sh  our CQL client (cql_bench) against the Apache
#                            Java driver on its own Cassandra (port 19042;
#                            needs JDK 17 and Maven; skip with SKIP=cql)
#
# Servers listen on port 0 (--ready-file), data goes to a temp dir, and every
# process started here is stopped on exit. Knobs (environment):
#   BUILD_DIR (build)  API_SECONDS (10)  E2E_JOBS (10000)  E2E_SECONDS (20)
#   E2E_LIGHT_JOBS (1000: a second e2e and Quartz run below saturation)
#   ENGINE_JOBS (1000000)  ENGINE_REPS (3)  QUARTZ_DRAIN_JOBS (= ENGINE_JOBS)
#   WRK_CONNECTIONS (64)  SKIP ("cron peers engine allocator e2e quartz api cql":
#   parts to skip)
#   CQL_ROUNDS (1 here), CQL_SECONDS, CQL_CONCURRENCY, DTS_CASSANDRA_PORT (19042):
#   see bench/cassandra/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
API_SECONDS=${API_SECONDS:-10}
E2E_JOBS=${E2E_JOBS:-10000}
E2E_SECONDS=${E2E_SECONDS:-20}
E2E_LIGHT_JOBS=${E2E_LIGHT_JOBS:-1000}
ENGINE_JOBS=${ENGINE_JOBS:-1000000}
ENGINE_REPS=${ENGINE_REPS:-3}
QUARTZ_DRAIN_JOBS=${QUARTZ_DRAIN_JOBS:-$ENGINE_JOBS}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
SKIP=${SKIP:-}
B=$BUILD_DIR

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dts-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s (%s, load %s)\n' "$1" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
skip() { [[ " $SKIP " == *" $1 "* ]]; }

# Summary rows: name | figure | goal | verdict
ROWS=()
row() { ROWS+=("$1|$2|$3|$4"); }
# verdict VALUE OP GOAL  (OP: ge or le)
verdict() {
  awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {
    if (v == "" || v == "n/a") { print "?"; exit }
    ok = (op == "ge") ? (v + 0 >= g + 0) : (v + 0 <= g + 0)
    print ok ? "met" : "MISSED" }'
}
# field KEY FILE: value of KEY=... on the RESULT line of FILE
field() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# The medians of a Google Benchmark JSON file (or the runs, without repetitions).
JQ_MEDIANS='(if any(.benchmarks[]; .aggregate_name == "median")
  then [.benchmarks[] | select(.aggregate_name == "median")]
  else [.benchmarks[] | select(.run_type == "iteration")] end)'
fmt() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.0f", v }'; }

# Starts `dts server` on port 0 with a fresh data dir; sets SERVER_PID,
# GRPC_ADDR, HTTP_ADDR, DATA_DIR.
start_server() {
  local name=$1
  DATA_DIR=$WORK/$name
  mkdir -p "$DATA_DIR"
  local ready=$WORK/$name.ready
  "$B/dts" server --data-dir "$DATA_DIR" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
    --ready-file "$ready" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 300); do
    [[ -s $ready ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; echo "dts server died" >&2; exit 1; }
    sleep 0.05
  done
  [[ -s $ready ]] || { echo "dts server did not become ready" >&2; exit 1; }
  GRPC_ADDR=$(jq -r .grpc "$ready")
  HTTP_ADDR=$(jq -r .http "$ready")
}
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
wrk_rate() { sed -n 's/^Requests\/sec: *//p' "$1"; }
wrk_non2xx() { local n; n=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$1"); echo "${n:-0}"; }
wrk_p99() { sed -n 's/^ *99% *//p' "$1"; }

step "machine"
nproc
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Hypervisor)' || true
free -m | head -2
uptime

step "build ($B)"
[[ -f $B/build.ninja ]] || cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$B/CMakeCache.txt" ||
  echo "warning: $B is not a Release build; figures will be low" >&2
cmake --build "$B" -j "$JOBS" --target dts cron_bench engine_bench store_bench e2e_bench grpc_load http_hello allocator_bench

# ---- 1. cron ----
if ! skip cron; then
  step "cron_bench"
  "$B/bench/cron_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 --benchmark_out="$WORK/cron.json" --benchmark_out_format=json
  # The slowest median next() of the UTC cases (goal 100 ns for the common
  # ones, 1 µs for L/W/#), of the DST-zone cases (300 ns), and of parse (1 µs).
  cron_max() {  # cron_max REGEX [EXCLUDE_REGEX]: slowest median CPU time of the matching cases
    jq -r --arg re "$1" --arg ex "${2:-^$}" "[$JQ_MEDIANS[] | select((.run_name|test(\$re))
      and (.run_name|test(\$ex)|not)) | .cpu_time] | max // empty" "$WORK/cron.json"
  }
  v=$(cron_max '^next/' '^next/(ny_|lord_howe)'); row "cron next(), UTC, slowest median (ns)" "$(fmt "$v")" "≤ 1000 (≤ 100 common)" "$(verdict "$v" le 1000)"
  v=$(cron_max '^next/(ny_|lord_howe)'); row "cron next(), DST zones, slowest median (ns)" "$(fmt "$v")" "≤ 300" "$(verdict "$v" le 300)"
  v=$(cron_max '^parse/'); row "cron parse, slowest median (ns)" "$(fmt "$v")" "≤ 1000" "$(verdict "$v" le 1000)"
fi

# ---- 1b. cron peers: robfig/cron, gorhill/cronexpr (Go), croniter (Python) ----
if ! skip cron && ! skip peers; then
  step "cron next() peers, side by side (bench/peers)"
  GOWORK_DIR=$WORK/gopath/src/cronpeers
  mkdir -p "$GOWORK_DIR"
  cp bench/peers/cron_peers_test.go bench/peers/cron_cases.tsv "$GOWORK_DIR/"
  (cd "$GOWORK_DIR" && GOPATH=$WORK/gopath:/usr/share/gocode GO111MODULE=off GOFLAGS= \
    GOCACHE=$WORK/gocache go test -run '^$' -bench . -benchtime 0.5s -count 3) | tee "$WORK/peers-go.out"
  /usr/bin/python3 bench/peers/cron_croniter.py 0.5 | tee "$WORK/peers-py.out"
  # peer_ns LIB CASE: the median ns/op of LIB on CASE (empty: unsupported).
  peer_ns() {
    { grep "^BenchmarkNext/$1/$2-" "$WORK/peers-go.out" | awk '{ print $3 }' || true
      grep "^$1/$2 " "$WORK/peers-py.out" | awk '{ print $2 }' || true; } | sort -g |
      awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
  }
  printf '\n%-18s %10s %10s %10s %10s\n' case "ours ns" robfig gorhill croniter
  : >"$WORK/peers.tsv"
  while IFS=$'\t' read -r name _ _ _; do
    [[ -z $name || $name == \#* ]] && continue
    ours=$(jq -r --arg n "next/$name" "[$JQ_MEDIANS[] | select(.run_name == \$n) | .cpu_time][0] // empty" "$WORK/cron.json")
    r=$(peer_ns robfig "$name"); g=$(peer_ns gorhill "$name"); c=$(peer_ns croniter "$name")
    printf '%-18s %10.1f %10s %10s %10s\n' "$name" "$ours" "${r:--}" "${g:--}" "${c:--}"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$ours" "$r" "$g" "$c" >>"$WORK/peers.tsv"
  done <bench/peers/cron_cases.tsv
  # geo COLUMN: geometric mean of peer/ours over the cases both support, and
  # the count; low COLUMN: the smallest ratio.
  geo() { awk -F'\t' -v c="$1" '$c != "" { s += log($c / $2); n++ } END { if (n) printf "%.1f %d", exp(s / n), n }' "$WORK/peers.tsv"; }
  low() { awk -F'\t' -v c="$1" '$c != "" { r = $c / $2; if (!n++ || r < m) m = r } END { if (n) printf "%.1f %d", m, n }' "$WORK/peers.tsv"; }
  read -r v n <<<"$(geo 3)"; row "cron next() vs robfig/cron: geometric-mean speed-up ($n expressions both parse)" "${v}×" "≥ 5×" "$(verdict "$v" ge 5)"
  read -r v n <<<"$(low 4)"; row "cron next() vs gorhill/cronexpr: smallest speed-up ($n expressions)" "${v}×" "≥ 3× each" "$(verdict "$v" ge 3)"
  read -r v n <<<"$(geo 4)"; row "cron next() vs gorhill/cronexpr: geometric mean (info)" "${v}×" "-" "-"
  read -r v n <<<"$(geo 5)"; row "cron next() vs croniter: geometric-mean speed-up ($n expressions, info)" "${v}×" "-" "-"
fi

# ---- 2. engine ----
if ! skip engine; then
  step "engine_bench ($ENGINE_JOBS jobs)"
  ENGINE_BENCH_JOBS=$ENGINE_JOBS "$B/bench/engine_bench" --benchmark_repetitions="$ENGINE_REPS" \
    --benchmark_report_aggregates_only=true --benchmark_out="$WORK/engine.json" --benchmark_out_format=json
  em() {  # em REGEX FIELD: a field of the median of the benchmark whose name matches
    jq -r --arg n "$1" --arg f "$2" "[$JQ_MEDIANS[] | select(.run_name|test(\$n)) | .[\$f]][0] // empty" \
      "$WORK/engine.json"
  }
  v=$(em '^DueIndex/Upsert_insert$' bytes_per_job); row "due index bytes per job ($ENGINE_JOBS jobs)" "$(awk -v v="$v" 'BEGIN{printf "%.1f", v}')" "≤ 128" "$(verdict "$v" le 128)"
  v=$(em '^DueIndex/Upsert_insert$' items_per_second); row "due index Upsert (insert) ops/s" "$(fmt "$v")" "≥ 1,000,000" "$(verdict "$v" ge 1000000)"
  v=$(em '^DueIndex/Remove$' items_per_second); row "due index Remove ops/s" "$(fmt "$v")" "≥ 1,000,000" "$(verdict "$v" ge 1000000)"
  v=$(em '^DueIndex/Reschedule$' items_per_second); row "due index reschedule (pop+insert) /s" "$(fmt "$v")" "-" "-"
  ENGINE_FIRES=$(em "^Engine/FireDue/$ENGINE_JOBS/" items_per_second)
  row "Engine::FireDue fires/s, $ENGINE_JOBS jobs, 1 core" "$(fmt "$ENGINE_FIRES")" "≥ 500,000" "$(verdict "$ENGINE_FIRES" ge 500000)"
  if [[ $ENGINE_JOBS -gt 100000 ]]; then
    v=$(em '^Engine/FireDue/100000/' items_per_second); row "Engine::FireDue fires/s, 100000 jobs (info)" "$(fmt "$v")" "-" "-"
  fi
  v=$(em "^Engine/FireDue/$ENGINE_JOBS/" engine_bytes_per_job); row "memory per job at $ENGINE_JOBS jobs: engine heap per indexed job (B, info)" "$(fmt "$v")" "-" "-"
  v=$(em '^Parts/ScheduledRunId$' cpu_time); row "ScheduledRunId per fire (ns, info)" "$(fmt "$v")" "-" "-"
fi

# ---- allocator ----
if ! skip allocator; then
  step "allocator_bench (1,000 workers, 100,000 queued runs)"
  "$B/bench/allocator_bench" --benchmark_repetitions="$ENGINE_REPS" --benchmark_report_aggregates_only=true \
    --benchmark_out="$WORK/alloc.json" --benchmark_out_format=json
  am() { jq -r --arg n "$1" "[$JQ_MEDIANS[] | select(.run_name|test(\$n)) | .items_per_second][0] // empty" "$WORK/alloc.json"; }
  v=$(am '^Steady/shapes'); row "placements/s, 1k workers, 100k queued (125 shapes)" "$(fmt "$v")" "≥ 100,000" "$(verdict "$v" ge 100000)"
  v=$(am '^Steady/distinct'); row "placements/s, same, every run its own size" "$(fmt "$v")" "≥ 100,000" "$(verdict "$v" ge 100000)"
fi

# ---- 3. embedded end to end ----
if ! skip e2e; then
  step "store_bench (SQLite, 10k jobs)"
  "$B/bench/store_bench" --benchmark_repetitions="$ENGINE_REPS" --benchmark_report_aggregates_only=true \
    --benchmark_out="$WORK/store.json" --benchmark_out_format=json
  sm() { jq -r --arg n "$1" "[$JQ_MEDIANS[] | select(.run_name == \$n) | .items_per_second][0] // empty" "$WORK/store.json"; }
  v=$(sm Store/RecordFires/min_time:1.000/real_time); row "SQLite RecordFires (batch 1024) fires/s" "$(fmt "$v")" "-" "-"
  v=$(sm Store/UpdateRun/min_time:1.000/real_time); row "SQLite UpdateRun (1 run, own txn) /s" "$(fmt "$v")" "-" "-"
  v=$(sm Store/UpdateRuns/min_time:1.000/real_time); row "SQLite UpdateRuns (batch 1024) /s" "$(fmt "$v")" "-" "-"

  step "e2e: dts server, $E2E_JOBS noop jobs every second, ${E2E_SECONDS}s"
  start_server e2e
  "$B/bench/e2e_bench" --grpc "$GRPC_ADDR" --data-dir "$DATA_DIR" --jobs "$E2E_JOBS" \
    --seconds "$E2E_SECONDS" | tee "$WORK/e2e.out"
  stop_pid "$SERVER_PID"
  E2E_RATE=$(field recorded_per_s "$WORK/e2e.out")
  row "e2e runs recorded/s in SQLite ($E2E_JOBS jobs × 1/s)" "$(fmt "$E2E_RATE")" "≥ 10,000" "$(verdict "$E2E_RATE" ge 10000)"
  v=$(field p99_ms "$WORK/e2e.out")
  row "e2e lateness p50 / p99 / max (ms), $E2E_JOBS jobs" \
    "$(field p50_ms "$WORK/e2e.out") / $v / $(field max_ms "$WORK/e2e.out")" "p99 ≤ 5" "$(verdict "$v" le 5)"

  # The same below saturation: does lateness meet the goal when the store keeps up?
  step "e2e: dts server, $E2E_LIGHT_JOBS noop jobs every second, 10s"
  start_server e2e-light
  "$B/bench/e2e_bench" --grpc "$GRPC_ADDR" --data-dir "$DATA_DIR" --jobs "$E2E_LIGHT_JOBS" \
    --seconds 10 | tee "$WORK/e2e-light.out"
  stop_pid "$SERVER_PID"
  row "e2e runs recorded/s ($E2E_LIGHT_JOBS jobs × 1/s)" "$(fmt "$(field recorded_per_s "$WORK/e2e-light.out")")" "-" "-"
  v=$(field p99_ms "$WORK/e2e-light.out")
  row "e2e lateness p50 / p99 / max (ms), $E2E_LIGHT_JOBS jobs" \
    "$(field p50_ms "$WORK/e2e-light.out") / $v / $(field max_ms "$WORK/e2e-light.out")" "p99 ≤ 5" "$(verdict "$v" le 5)"
fi

# ---- 4. Quartz ----
if ! skip quartz; then
  QUARTZ_JAR=/usr/share/java/quartz2.jar
  if [[ ! -f $QUARTZ_JAR ]]; then
    echo "Quartz not installed (apt-get install -y libquartz2-java); skipping" >&2
    row "Quartz" "not installed" "-" "-"
  else
    step "Quartz (RAMJobStore, 2 threads)"
    mkdir -p "$WORK/quartz"
    javac -cp "$QUARTZ_JAR" -d "$WORK/quartz" bench/quartz/QuartzBench.java
    QCP=$WORK/quartz:$QUARTZ_JAR:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar
    java -cp "$QCP" QuartzBench steady "$E2E_JOBS" "$E2E_SECONDS" | tee "$WORK/quartz-steady.out"
    java -cp "$QCP" QuartzBench steady "$E2E_LIGHT_JOBS" 10 | tee "$WORK/quartz-light.out"
    java -Xmx8g -cp "$QCP" QuartzBench drain "$QUARTZ_DRAIN_JOBS" | tee "$WORK/quartz-drain.out"
    QS=$(field fires_per_s "$WORK/quartz-steady.out")
    QD=$(field fires_per_s "$WORK/quartz-drain.out")
    row "Quartz steady fires/s ($E2E_JOBS jobs × 1/s)" "$(fmt "$QS")" "-" "-"
    row "Quartz lateness p50 / p99 / max (ms), $E2E_JOBS jobs" "$(field p50_ms "$WORK/quartz-steady.out") / $(field p99_ms "$WORK/quartz-steady.out") / $(field max_ms "$WORK/quartz-steady.out")" "-" "-"
    row "Quartz lateness p50 / p99 / max (ms), $E2E_LIGHT_JOBS jobs" "$(field p50_ms "$WORK/quartz-light.out") / $(field p99_ms "$WORK/quartz-light.out") / $(field max_ms "$WORK/quartz-light.out")" "-" "-"
    row "Quartz drain fires/s ($QUARTZ_DRAIN_JOBS due at once)" "$(fmt "$QD")" "-" "-"
    if [[ -n ${ENGINE_FIRES:-} && -n $QD ]]; then
      row "ratio Engine::FireDue / Quartz drain" "$(awk -v a="$ENGINE_FIRES" -v b="$QD" 'BEGIN{printf "%.1f×", a/b}')" "-" "-"
    fi
    if [[ -n ${E2E_RATE:-} && -n $QS ]]; then
      row "ratio e2e (SQLite) / Quartz steady" "$(awk -v a="$E2E_RATE" -v b="$QS" 'BEGIN{printf "%.2f×", a/b}')" "-" "-"
    fi
  fi
fi

# ---- 5. API load ----
# load NAME PID CMD...: runs the load generator CMD (output to $WORK/NAME.out)
# and writes "<server cores> <generator cores>" to $WORK/NAME.cpu: the CPU
# each side used over the run, so the table shows where the 2 cores went.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() {
  local name=$1 pid=$2; shift 2
  local before after
  before=$(proc_ticks "$pid")
  /usr/bin/time -f '%e %U %S' -o "$WORK/$name.time" "$@" | tee "$WORK/$name.out"
  after=$(proc_ticks "$pid")
  read -r elapsed user sys <"$WORK/$name.time"
  awk -v b="$before" -v a="$after" -v e="$elapsed" -v u="$user" -v s="$sys" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f %.2f\n", (a - b) / hz / e, (u + s) / e }' >"$WORK/$name.cpu"
}
# cores NAME RATE: the CPU split, and RATE per second of server CPU (robust to
# other load on the machine, unlike the rate itself).
cores() {
  awk -v r="$2" '{ printf "server %.2f, generator %.2f cores; %.0f per server CPU-s", $1, $2, ($1 > 0 ? r / $1 : 0) }' \
    "$WORK/$1.cpu"
}

if ! skip api; then
  step "API load: ${API_SECONDS}s each, wrk -t1 -c$WRK_CONNECTIONS, grpc_load 1 thread x 32"
  "$B/bench/http_hello" 0 >"$WORK/hello.port" 2>&1 &
  HELLO_PID=$!
  PIDS+=("$HELLO_PID")
  for _ in $(seq 100); do [[ -s $WORK/hello.port ]] && break; sleep 0.05; done
  HELLO_PORT=$(head -1 "$WORK/hello.port")
  load wrk-hello "$HELLO_PID" wrk -t1 -c"$WRK_CONNECTIONS" -d"${API_SECONDS}s" --latency "http://127.0.0.1:$HELLO_PORT/"
  stop_pid "$HELLO_PID"

  start_server api
  JOB_ID=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"name":"bench","cron_expression":"0 0 1 1 *"}' "http://$HTTP_ADDR/v1/jobs" | jq -r '.job_id // .id')
  [[ -n $JOB_ID && $JOB_ID != null ]] || { echo "could not create the job to read" >&2; exit 1; }
  load wrk-get "$SERVER_PID" wrk -t1 -c"$WRK_CONNECTIONS" -d"${API_SECONDS}s" --latency -s bench/http/get_job.lua \
    "http://$HTTP_ADDR" -- "$JOB_ID"
  load grpc-get "$SERVER_PID" "$B/bench/grpc_load" --target "$GRPC_ADDR" --method get --id "$JOB_ID" \
    --seconds "$API_SECONDS"
  JOB_CRON='0 0 1 1 *' load wrk-post "$SERVER_PID" wrk -t1 -c"$WRK_CONNECTIONS" -d"${API_SECONDS}s" --latency \
    -s bench/http/post_job.lua "http://$HTTP_ADDR"
  load grpc-create "$SERVER_PID" "$B/bench/grpc_load" --target "$GRPC_ADDR" --method create \
    --seconds "$API_SECONDS"
  stop_pid "$SERVER_PID"

  HELLO=$(wrk_rate "$WORK/wrk-hello.out")
  GET=$(wrk_rate "$WORK/wrk-get.out")
  POST=$(wrk_rate "$WORK/wrk-post.out")
  row "HTTP hello-world (bare Beast) req/s [$(cores wrk-hello "$HELLO")]" "$(fmt "$HELLO")" "-" "-"
  row "HTTP GET /v1/jobs/{id} req/s (non-2xx $(wrk_non2xx "$WORK/wrk-get.out"), p99 $(wrk_p99 "$WORK/wrk-get.out")) [$(cores wrk-get "$GET")]" \
    "$(fmt "$GET")" "≥ 30,000" "$(verdict "$GET" ge 30000)"
  RATIO=$(awk -v a="$GET" -v b="$HELLO" 'BEGIN{ if (b > 0) printf "%.2f", a/b }')
  row "HTTP GET / hello-world" "${RATIO}×" "≥ 0.5×" "$(verdict "$RATIO" ge 0.5)"
  v=$(awk -v a="$GET" -v b="$HELLO" -v ca="$(cut -d' ' -f1 "$WORK/wrk-get.cpu")" -v cb="$(cut -d' ' -f1 "$WORK/wrk-hello.cpu")" \
    'BEGIN{ if (b > 0 && ca > 0 && cb > 0) printf "%.2f", (a / ca) / (b / cb) }')
  row "HTTP GET / hello-world, per server CPU-s (info)" "${v}×" "-" "-"
  row "HTTP POST /v1/jobs req/s (non-2xx $(wrk_non2xx "$WORK/wrk-post.out"), p99 $(wrk_p99 "$WORK/wrk-post.out")) [$(cores wrk-post "$POST")]" \
    "$(fmt "$POST")" "≥ 5,000" "$(verdict "$POST" ge 5000)"
  v=$(field rps "$WORK/grpc-get.out")
  row "gRPC GetJob calls/s (errors $(field errors "$WORK/grpc-get.out"), p99 $(field p99_us "$WORK/grpc-get.out")us) [$(cores grpc-get "$v")]" \
    "$(fmt "$v")" "≥ 30,000" "$(verdict "$v" ge 30000)"
  v=$(field rps "$WORK/grpc-create.out")
  row "gRPC CreateJob calls/s (errors $(field errors "$WORK/grpc-create.out"), p99 $(field p99_us "$WORK/grpc-create.out")us) [$(cores grpc-create "$v")]" \
    "$(fmt "$v")" "≥ 5,000" "$(verdict "$v" ge 5000)"
fi

# ---- 6. CQL client against the Java driver (issue 7) ----
if ! skip cql; then
  step "CQL client: cql_bench vs the Apache Java driver (own Cassandra)"
  if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
    echo "JDK or Maven missing (scripts/install-deps.sh); skipping" >&2
    row "CQL client vs Java driver" "JDK/Maven missing" "-" "-"
  elif BUILD_DIR=$B JOBS=$JOBS CQL_ROUNDS=${CQL_ROUNDS:-1} bash bench/cassandra/run.sh | tee "$WORK/cql.out"; then
    while read -r _ _ opf cf oursf _ _ drvf _ _ ratiof; do
      v=${ratiof#ratio=}
      row "CQL ${opf#op=} ops/s, concurrency ${cf#c=}: ours ${oursf#ours=} / Java driver ${drvf#driver=}" \
        "${v}×" "≥ 0.8×" "$(verdict "$v" ge 0.8)"
    done < <(grep '^RESULT cql ' "$WORK/cql.out")
  else
    row "CQL client vs Java driver" "failed (see above)" "≥ 0.8×" "?"
  fi
fi

step "summary"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)   (nproc $(nproc))"
{
  echo "benchmark|figure|goal|verdict"
  echo "---|---|---|---"
  printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
