#!/usr/bin/env bash
# The benchmark: builds release binaries, creates its own PostgreSQL database, measures on
# loopback with bounded durations, and writes docs/BENCHMARKS.md. Default run: about 3 minutes
# after the build.
#
#   bench/run.sh                         # the default run
#   BENCH_DURATION=10 BENCH_REPETITIONS=5 bench/run.sh
#   BENCH_CASCADE_SIZES=10000,100000 bench/run.sh   # a quicker cascade
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-5}            # seconds per wrk / pgbench run
repetitions=${BENCH_REPETITIONS:-3}
sizes=${BENCH_CASCADE_SIZES:-100000,1000000}
connections=32
pool=${BENCH_POOL_SIZE:-10}
server=${BENCH_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432}
database=chatai_bench
out=bench/out
mkdir -p "$out"
samples="$out/samples.txt"
: >"$samples"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

say() { echo "bench: $*" >&2; }
now_ns() { date +%s%N; }
elapsed_ms() { echo "scale=2; ($(now_ns) - $1) / 1000000" | bc; }
record() { echo "$1 $2" >>"$samples"; }

# --- tools --------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v pgbench >/dev/null 2>&1 || missing+=(postgresql-client)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v bc >/dev/null 2>&1 || missing+=(bc)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

# --- build --------------------------------------------------------------------------------------
say "building release binaries"
cargo build --release --locked -q -p user-service -p migration -p seeds -p bench
bin=target/release

psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
export DATABASE_URL="$server/$database"
unset DATABASE_HOST DATABASE_PORT DATABASE_USER DATABASE_PASSWORD DATABASE_NAME
export APP_ENV=development

# --- migrations and seed, whole processes -------------------------------------------------------
say "migration up/down on an empty database (x5)"
for _ in 1 2 3 4 5; do
  start=$(now_ns); RUST_LOG=warn "$bin/migration" up >/dev/null 2>&1; record migrate_up_ms "$(elapsed_ms "$start")"
  start=$(now_ns); RUST_LOG=warn "$bin/migration" down >/dev/null 2>&1; record migrate_down_ms "$(elapsed_ms "$start")"
done
"$bin/migration" up >/dev/null 2>&1
say "seed on a migrated database (x$repetitions)"
for _ in $(seq 1 "$repetitions"); do
  psql "$DATABASE_URL" -qAt -c "DELETE FROM users" -c "DELETE FROM agents" >/dev/null
  start=$(now_ns); "$bin/seed" >/dev/null; record seed_ms "$(elapsed_ms "$start")"
done

# --- HTTP ---------------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
service_port=$(free_port)
baseline_port=$(free_port)
DATABASE_POOL_MAX=$pool USER_SERVICE_HOST=127.0.0.1 USER_SERVICE_PORT=$service_port \
  "$bin/user-service" >"$out/service.log" 2>&1 &
service_pid=$!; pids+=("$service_pid")
"$bin/bench" baseline --port "$baseline_port" >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$service_port/health/db")" = 200 ] && break
  sleep 0.1
done
sleep 2
record rss_idle_kb "$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")"

load() { # name url
  wrk -t2 -c"$connections" -d"${duration}s" -s bench/wrk.lua "$2" 2>/dev/null \
    | awk -v name="$1" '$1 ~ /^(rps|p50_ms|p99_ms|non2xx|socket_errors)$/ { print name "_" $1, $2 }' >>"$samples"
}
for round in $(seq 1 "$repetitions"); do
  say "round $round/$repetitions: baseline, /health, /health/db, pgbench (${duration}s each)"
  load baseline "http://127.0.0.1:$baseline_port/health"
  load health "http://127.0.0.1:$service_port/health"
  load health_db "http://127.0.0.1:$service_port/health/db"
  pgbench -n -M prepared -c "$pool" -j 2 -T "$duration" -f bench/select1.sql "$DATABASE_URL" 2>/dev/null \
    | awk '/^tps = / { print "pgbench_tps", $3 } /^latency average/ { print "pgbench_latency_ms", $4 }' >>"$samples"
done
record rss_after_load_kb "$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")"
kill "$service_pid"

# --- start-up and schema scaling ----------------------------------------------------------------
say "start-up against PostgreSQL (x10)"
"$bin/bench" startup --binary "$bin/user-service" --runs 10 | sed 's/^/startup_ms /' >>"$samples"
say "cascading delete at $sizes rows of other users"
"$bin/bench" cascade --server "$server" --sizes "$sizes" --repetitions "$repetitions" >>"$samples"
psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null

# --- report -------------------------------------------------------------------------------------
{
  echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu         $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "rustc       $(rustc --version)"
  echo "postgresql  $(psql "$server/postgres" -qAt -c 'SHOW server_version')"
  echo "wrk         $(wrk -v 2>&1 | head -n 1)"
  echo "load        wrk -t2 -c$connections, ${duration}s x $repetitions rounds; pgbench -M prepared -c $pool -j 2 (pool size $pool)"
} >"$out/context.txt"
"$bin/bench" report --samples "$samples" --context "$out/context.txt" --output docs/BENCHMARKS.md
cat bench/tuning.md >>docs/BENCHMARKS.md
say "wrote docs/BENCHMARKS.md"
grep -E '^\| ' docs/BENCHMARKS.md | head -n 12
