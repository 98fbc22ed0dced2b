#!/usr/bin/env bash
# The benchmark: builds release binaries, creates its own PostgreSQL database, measures on
# loopback with bounded durations, and writes docs/BENCHMARKS.md. Default run: about 4 minutes
# after the build.
#
#   bench/run.sh                         # the default run
#   BENCH_DURATION=10 BENCH_REPETITIONS=7 bench/run.sh
#   BENCH_CASCADE_SIZES=10000,100000 bench/run.sh   # a quicker cascade
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-3}            # seconds per wrk / pgbench run
repetitions=${BENCH_REPETITIONS:-5}
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

# The service's database, and a second one for pgbench, so that the service's round trips can be
# counted on the server (pg_stat_database) without pgbench's.
for name in "$database" "${database}_pgbench"; do
  psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
done
export DATABASE_URL="$server/$database"
pgbench_url="$server/${database}_pgbench"
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
commits() { psql "$DATABASE_URL" -qAt -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
commits_before=$(commits)

load() { # name url: records the figures, prints requests/s
  local out
  out=$(wrk -t2 -c"$connections" -d"${duration}s" -s bench/wrk.lua "$2" 2>/dev/null)
  echo "$out" | awk -v name="$1" '$1 ~ /^(rps|p50_ms|p99_ms|non2xx|socket_errors|requests)$/ { print name "_" $1, $2 }' >>"$samples"
  echo "$out" | awk '$1 == "rps" { print $2 }'
}
pgbench_select1() { # records the figures, prints TPS
  local out
  out=$(pgbench -n -M prepared -c "$pool" -j 2 -T "$duration" -f bench/select1.sql "$pgbench_url" 2>/dev/null)
  echo "$out" | awk '/^tps = / { print "pgbench_tps", $3 } /^latency average/ { print "pgbench_latency_ms", $4 }' >>"$samples"
  echo "$out" | awk '/^tps = / { print $3 }'
}
# Each pair is measured A B B A, back to back, so that drift of the shared machine (other
# tenants, frequency) falls on both sides; the target is the median of the per-round ratios.
for round in $(seq 1 "$repetitions"); do
  say "round $round/$repetitions: baseline and /health, then /health/db and pgbench (A B B A, ${duration}s each)"
  b1=$(load baseline "http://127.0.0.1:$baseline_port/health")
  s1=$(load health "http://127.0.0.1:$service_port/health")
  s2=$(load health "http://127.0.0.1:$service_port/health")
  b2=$(load baseline "http://127.0.0.1:$baseline_port/health")
  record health_ratio "$(echo "scale=4; ($s1 + $s2) / ($b1 + $b2)" | bc)"
  d1=$(load health_db "http://127.0.0.1:$service_port/health/db")
  p1=$(pgbench_select1)
  p2=$(pgbench_select1)
  d2=$(load health_db "http://127.0.0.1:$service_port/health/db")
  record health_db_ratio "$(echo "scale=4; ($d1 + $d2) / ($p1 + $p2)" | bc)"
done
record rss_after_load_kb "$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")"
# Stopping the service closes its pool; PostgreSQL backends flush their statistics as they exit.
kill "$service_pid"
wait "$service_pid" 2>/dev/null || true
sleep 1
db_requests=$(awk '$1 == "health_db_requests" { sum += $2 } END { print sum + 0 }' "$samples")
if [ "$db_requests" -gt 0 ]; then
  record health_db_round_trips_per_request "$(echo "scale=4; ($(commits) - $commits_before) / $db_requests" | bc)"
fi

# --- start-up and schema scaling ----------------------------------------------------------------
say "start-up against PostgreSQL (x10)"
"$bin/bench" startup --binary "$bin/user-service" --runs 10 | sed 's/^/startup_ms /' >>"$samples"
say "cascading delete at $sizes rows of other users"
"$bin/bench" cascade --server "$server" --sizes "$sizes" --repetitions "$repetitions" >>"$samples"
for name in "$database" "${database}_pgbench"; do
  psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
done

# --- report -------------------------------------------------------------------------------------
{
  echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu         $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "rustc       $(rustc --version)"
  echo "postgresql  $(psql "$server/postgres" -qAt -c 'SHOW server_version')"
  echo "wrk         $(wrk -v 2>&1 | head -n 1)"
  echo "load        wrk -t2 -c$connections, ${duration}s a run, $repetitions rounds of A B B A; pgbench -M prepared -c $pool -j 2 (pool size $pool)"
} >"$out/context.txt"
"$bin/bench" report --samples "$samples" --context "$out/context.txt" --output docs/BENCHMARKS.md
cat bench/tuning.md >>docs/BENCHMARKS.md
say "wrote docs/BENCHMARKS.md"
grep -E '^\| ' docs/BENCHMARKS.md | head -n 12
