#!/usr/bin/env bash
# The benchmark: builds release binaries, creates its own PostgreSQL database, measures on
# loopback with bounded durations, and writes docs/BENCHMARKS.md. Default run: about 8 minutes
# after the build, of which 5 s build the data set.
#
#   bench/run.sh                         # the default run
#   BENCH_QUICK=1 bench/run.sh           # a data set a tenth of the size
#   BENCH_DURATION=10 BENCH_REPETITIONS=7 BENCH_API_REPETITIONS=5 bench/run.sh
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
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
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

# The API section reads PostgreSQL's log and needs Redis: fail now rather than after the rest.
pg_log=${BENCH_PG_LOG:-$(ls -t /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -n 1)}
[ -r "$pg_log" ] || { say "cannot read PostgreSQL's log (set BENCH_PG_LOG to its path)"; exit 1; }
redis_url=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
redis-cli -u "$redis_url" ping >/dev/null 2>&1 || { say "Redis at $redis_url does not answer"; exit 1; }

# Statements per request are counted by pg_stat_statements, which must be preloaded: if it is not,
# it is added to shared_preload_libraries and PostgreSQL restarted (said on the console).
preloaded=$(psql "$server/postgres" -qAt -c 'SHOW shared_preload_libraries')
if [[ "$preloaded" != *pg_stat_statements* ]]; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$version" ] || { say "pg_stat_statements is not preloaded and PostgreSQL cannot be restarted here"; exit 1; }
  say "adding pg_stat_statements to shared_preload_libraries and restarting PostgreSQL $version"
  psql "$server/postgres" -qAt -c "ALTER SYSTEM SET shared_preload_libraries = '${preloaded:+$preloaded,}pg_stat_statements'" >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql "$server/postgres" -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

# --- build --------------------------------------------------------------------------------------
# The service as it was before sessions (BENCH_BEFORE_REV), for /auth/me before and after the
# session check in one run: built once from a worktree, in a target directory of its own (cargo
# names a workspace's artifacts by their path inside it, so two checkouts sharing one target
# directory would take each other's), and kept in bench/out for later runs.
before_rev=${BENCH_BEFORE_REV:-616ce6a}
before_binary="$out/user-service-before-$before_rev"
if [ ! -x "$before_binary" ]; then
  say "building $before_rev (before sessions), once"
  before_tree=$(mktemp -d)
  git worktree add -q --detach "$before_tree" "$before_rev"
  (cd "$before_tree" && CARGO_TARGET_DIR="$OLDPWD/target/bench-before" cargo build --release --locked -q -p user-service)
  cp target/bench-before/release/user-service "$before_binary"
  git worktree remove --force "$before_tree"
fi
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

record_wrk() { # name: records wrk's figures (bench/wrk.lua's output, on stdin) under name
  awk -v name="$1" '$1 ~ /^(rps|p50_ms|p99_ms|non2xx|socket_errors|requests)$/ { print name "_" $1, $2 }' >>"$samples"
}
load() { # name url [wrk options]: records the figures, prints requests/s
  local name=$1 url=$2 out
  shift 2
  out=$(wrk -t2 -c"$connections" -d"${duration}s" -s bench/wrk.lua "$@" "$url" 2>/dev/null)
  echo "$out" | record_wrk "$name"
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

# --- the API under load -------------------------------------------------------------------------
# The data set, then for each endpoint: its database round trips (counted by a proxy), the
# statements it sends (logged by PostgreSQL, replayed by pgbench) and A B B A rounds of the
# service against pgbench of those statements.
if [ -n "${BENCH_QUICK:-}" ]; then
  data_users=1000 data_projects=100 data_conversations=10000 data_messages=100000
else
  data_users=${BENCH_USERS:-10000} data_projects=${BENCH_PROJECTS:-1000}
  data_conversations=${BENCH_CONVERSATIONS:-100000} data_messages=${BENCH_MESSAGES:-1000000}
fi
deep=$((data_messages * 9 / 10))  # how deep the deep page starts
api_rounds=${BENCH_API_REPETITIONS:-3}
member=test@chatai.com member_password=Test@123
# The service's hashing threads and the bare-argon2 threads: the same bound, set on both.
hash_threads=$(nproc)
export PASSWORD_HASH_CONCURRENCY=$hash_threads
export JWT_SECRET=bench-secret-bench-secret-bench-secret SEED_ON_START=false MIGRATE_ON_START=false
# One account logs in over and over with the right password, under the default throttle: only
# failed checks count, so concurrent correct logins are never refused (a non-2xx answer in the
# flood would show in the report).
export REDIS_URL=$redis_url REDIS_KEY_PREFIX="bench-$$:"

say "building the data set: $data_users users, $data_projects projects, $data_conversations conversations, $data_messages messages"
start=$(now_ns)
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -v users="$data_users" -v projects="$data_projects" \
  -v conversations="$data_conversations" -v messages="$data_messages" -v member="$member" \
  -f bench/dataset.sql >/dev/null
record dataset_build_s "$(echo "scale=2; $(elapsed_ms "$start") / 1000" | bc)"
q() { psql "$DATABASE_URL" -qAt -c "$1"; }
project_id=$(q "SELECT id FROM projects WHERE name = 'bench: project'")
conversation_id=$(q "SELECT id FROM conversations WHERE title = 'bench: conversation'")
deep_id=$(q "SELECT id FROM conversations WHERE title = 'bench: deep conversation'")
record member_projects "$(q "SELECT count(*) FROM project_members m JOIN users u ON u.id = m.user_id WHERE u.email = '$member'")"
# A cursor as the service writes it (crates/user-service/src/http/pagination.rs): "<micros>.<id>",
# the place of the last row before the deep page.
deep_cursor=$(q "SELECT (extract(epoch FROM created_at) * 1000000)::bigint || '.' || replace(id::text, '-', '')
                 FROM messages WHERE conversation_id = '$deep_id' ORDER BY created_at, id OFFSET $((deep - 1)) LIMIT 1" \
  | tr -d '\n')

base=http://127.0.0.1
# name, method, path, body: the endpoints measured against pgbench.
endpoints=(
  "me GET /auth/me"
  "project GET /projects/$project_id"
  "conversation GET /conversations/$conversation_id"
  "projects GET /projects"
  "post_message POST /conversations/$conversation_id/messages"
)
message_body='{"user_message":"How do I get a refund?"}'
body_of() { [ "$1" = post_message ] && echo "$message_body" || true; }
login_body="{\"email\":\"$member\",\"password\":\"$member_password\"}"

start_service() { # port [env...]: starts the service, waits until ready, prints its pid
  local port=$1
  shift
  env DATABASE_POOL_MAX="$pool" "$@" USER_SERVICE_HOST=127.0.0.1 USER_SERVICE_PORT="$port" \
    "$bin/user-service" >>"$out/service.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base:$port/health/db")" = 200 ] && break
    sleep 0.1
  done
  echo "$pid"
}
stop() { # pid: stops a process started by a subshell and waits until it has exited (a zombie
  # left to an init that does not reap counts as exited), for at most 15 s
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$1" 2>/dev/null || return 0
    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  say "process $1 did not stop"
}
token_from() { # port
  curl -sf -X POST -H 'Content-Type: application/json' -d "$login_body" "$base:$1/auth/login" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
call() { # port token method path body
  if [ -n "$5" ]; then
    curl -sf -o /dev/null -X "$3" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$5" "$base:$1$4"
  else
    curl -sf -o /dev/null -X "$3" -H "Authorization: Bearer $2" "$base:$1$4"
  fi
}

# Round trips and statements: a service whose database connection goes through the counting
# proxy, on a database that logs every statement. One connection, so that the warm-up prepares
# each statement where the measured requests run it, and no background health probe.
say "counting round trips and capturing the statements of each endpoint"
proxy_port=$(free_port) stats_port=$(free_port) capture_port=$(free_port)
"$bin/bench" proxy --listen "$proxy_port" --upstream 127.0.0.1:5432 --stats "$stats_port" &
pids+=("$!")
q "ALTER DATABASE $database SET log_statement = 'all'" >/dev/null
capture_pid=$(start_service "$capture_port" DATABASE_POOL_MAX=1 DATABASE_SSLMODE=disable HEALTH_PROBE_INTERVAL_MS=3600000 \
  DATABASE_URL="postgres://postgres:postgres@127.0.0.1:$proxy_port/$database")
pids+=("$capture_pid")
token=$(token_from "$capture_port")
[ -n "$token" ] || { say "login as $member failed"; exit 1; }
round_trips() { curl -s "$base:$stats_port/" | awk '{ print $1 }'; }
measure_statements() { # name method path body
  for _ in 1 2 3; do call "$capture_port" "$token" "$2" "$3" "$4"; done  # prepares the statements
  sleep 0.2
  local before after
  before=$(round_trips)
  for _ in $(seq 1 50); do call "$capture_port" "$token" "$2" "$3" "$4"; done
  sleep 0.2
  after=$(round_trips)
  record "$1_round_trips" "$(echo "scale=2; ($after - $before) / 50" | bc)"
  local offset
  offset=$(stat -c %s "$pg_log")
  call "$capture_port" "$token" "$2" "$3" "$4"
  sleep 0.5
  "$bin/bench" capture --log "$pg_log" --from "$offset" --database "$database" \
    --script "$out/$1.sql" --defines "$out/$1.defines" >"$out/$1.statements"
}
for endpoint in "${endpoints[@]}"; do
  read -r name method path <<<"$endpoint"
  measure_statements "$name" "$method" "$path" "$(body_of "$name")"
done
stop "$capture_pid"
q "ALTER DATABASE $database RESET log_statement" >/dev/null

# The service itself, straight to PostgreSQL.
api_port=$(free_port)
api_pid=$(start_service "$api_port")
pids+=("$api_pid")
token=$(token_from "$api_port")
auth=(-H "Authorization: Bearer $token")
pgbench_of() { # name: records the figures, prints TPS
  local defines=()
  while IFS= read -r line; do defines+=(-D "$line"); done <"$out/$1.defines"
  local result
  result=$(pgbench -n -M prepared -c "$pool" -j 2 -T "$duration" -f "$out/$1.sql" "${defines[@]}" "$DATABASE_URL" 2>/dev/null)
  echo "$result" | awk -v name="$1" '/^tps = / { print name "_pgbench_tps", $3 } /^latency average/ { print name "_pgbench_latency_ms", $4 }' >>"$samples"
  echo "$result" | awk '/^tps = / { print $3 }'
}
for round in $(seq 1 "$api_rounds"); do
  for endpoint in "${endpoints[@]}"; do
    read -r name method path <<<"$endpoint"
    say "round $round/$api_rounds: $method $path and pgbench of its statements (A B B A)"
    export BENCH_METHOD=$method BENCH_BODY=$(body_of "$name")
    s1=$(load "$name" "$base:$api_port$path" "${auth[@]}")
    p1=$(pgbench_of "$name")
    p2=$(pgbench_of "$name")
    s2=$(load "$name" "$base:$api_port$path" "${auth[@]}")
    record "${name}_ratio" "$(echo "scale=4; ($s1 + $s2) / ($p1 + $p2)" | bc)"
  done
  export BENCH_METHOD=GET BENCH_BODY=
  say "round $round/$api_rounds: first and ${deep}-deep message pages (A B B A)"
  first="$base:$api_port/conversations/$deep_id/messages"
  f1=$(load messages_first "$first" "${auth[@]}")
  d1=$(load messages_deep "$first?cursor=$deep_cursor" "${auth[@]}")
  d2=$(load messages_deep "$first?cursor=$deep_cursor" "${auth[@]}")
  f2=$(load messages_first "$first" "${auth[@]}")
  record deep_page_ratio "$(echo "scale=4; ($f1 + $f2) / ($d1 + $d2)" | bc)"
done

# Logins against the bare verifications, then /auth/me alone and under a login flood.
login_duration=$((duration > 5 ? duration : 5))
login() { # name: wrk of logins for login_duration, prints requests/s
  BENCH_METHOD=POST BENCH_BODY=$login_body wrk -t2 -c"$connections" -d"${login_duration}s" -s bench/wrk.lua "$base:$api_port/auth/login" 2>/dev/null \
    | tee >(record_wrk "$1") \
    | awk '$1 == "rps" { print $2 }'
}
argon2_rate() {
  "$bin/bench" argon2 --threads "$hash_threads" --seconds "$login_duration" | tee -a "$samples" | awk '{ print $2 }'
}
for round in 1 2; do
  say "round $round/2: argon2 verifications and logins (A B B A, ${login_duration}s each)"
  a1=$(argon2_rate); l1=$(login login); l2=$(login login); a2=$(argon2_rate)
  record login_ratio "$(echo "scale=4; ($l1 + $l2) / ($a1 + $a2)" | bc)"
done
me_p99() { # name: /auth/me on 4 connections for duration, prints p99 (ms)
  wrk -t1 -c4 -d"${duration}s" -s bench/wrk.lua "${auth[@]}" "$base:$api_port/auth/me" 2>/dev/null \
    | tee >(record_wrk "$1") \
    | awk '$1 == "p99_ms" { print $2 }'
}
flooded_me_p99() { # name flood url body: /auth/me p99 (recorded as name) while url is flooded with
  # POSTs of body; the flood's non-2xx answers and socket errors are recorded as flood_*.
  BENCH_METHOD=POST BENCH_BODY=$4 wrk -t1 -c"$connections" -d"$((duration + 2))s" -s bench/wrk.lua \
    "$3" 2>/dev/null | awk -v flood="$2" '$1 ~ /^(non2xx|socket_errors)$/ { print flood "_" $1, $2 }' >>"$samples" &
  local flood=$!
  sleep 1
  me_p99 "$1"
  wait "$flood"
}
login_flood=(me_flooded flood_login "$base:$api_port/auth/login" "$login_body")
for round in $(seq 1 "$api_rounds"); do
  say "round $round/$api_rounds: /auth/me p99 alone and under a login flood (A B B A)"
  m1=$(me_p99 me_alone); f1=$(flooded_me_p99 "${login_flood[@]}"); f2=$(flooded_me_p99 "${login_flood[@]}")
  m2=$(me_p99 me_alone)
  record flood_p99_ratio "$(echo "scale=4; ($f1 + $f2) / ($m1 + $m2)" | bc)"
done
# Wrong phone codes at full rate, and /auth/me p99 beside them. Every connection tries one
# number's code, as an attacker guessing a victim's code would: each try is refused (401) by
# comparing keyed hashes in one write transaction, never by argon2. The code burns after
# OTP_MAX_ATTEMPTS (5) tries; every later try is refused the same way, by the same statement.
phone_verify="$base:$api_port/auth/phone/verify"
wrong_code='{"phone":"+84901234567","code":"000000"}'
argon2_mean=$(echo "scale=2; ($a1 + $a2) / 2" | bc)
code_status() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$wrong_code" "$phone_verify"; }
wrong_codes() { # name: wrk of wrong codes, prints requests/s; records how many were not refused
  local out
  out=$(BENCH_METHOD=POST BENCH_BODY=$wrong_code wrk -t2 -c"$connections" -d"${duration}s" -s bench/wrk.lua "$phone_verify" 2>/dev/null)
  echo "$out" | record_wrk "$1"
  echo "$out" | awk -v name="$1" '$1 == "requests" { r = $2 } $1 == "non2xx" { n = $2 } END { print name "_accepted", r - n }' >>"$samples"
  echo "$out" | awk '$1 == "rps" { print $2 }'
}
code_flood=(me_code_flooded code_flood "$phone_verify" "$wrong_code")
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"phone":"+84901234567"}' \
  "$base:$api_port/auth/phone/otp" || { say "POST /auth/phone/otp failed"; exit 1; }
[ "$(code_status)" = 401 ] || { say "a wrong phone code was not answered 401"; exit 1; }
for round in $(seq 1 "$api_rounds"); do
  say "round $round/$api_rounds: wrong phone codes at full rate; /auth/me p99 alone and beside them (A B B A)"
  w=$(wrong_codes phone_wrong_code)
  record phone_code_argon2_ratio "$(echo "scale=4; $w / $argon2_mean" | bc)"
  m1=$(me_p99 me_alone); f1=$(flooded_me_p99 "${code_flood[@]}"); f2=$(flooded_me_p99 "${code_flood[@]}")
  m2=$(me_p99 me_alone)
  record code_flood_p99_ratio "$(echo "scale=4; ($f1 + $f2) / ($m1 + $m2)" | bc)"
done
[ "$(code_status)" = 401 ] || { say "after the flood, a wrong phone code was not answered 401"; exit 1; }
record rss_login_peak_kb "$(awk '/VmHWM/ {print $2}' "/proc/$api_pid/status")"
record rss_after_run_kb "$(awk '/VmRSS/ {print $2}' "/proc/$api_pid/status")"
stop "$api_pid"

# --- sessions -----------------------------------------------------------------------------------
# /auth/me before sessions and with the session check, each version on a fresh seeded database
# of its own, A B B A; the statements each /auth/me costs, from pg_stat_statements; and
# POST /auth/refresh, each request spending a live token.
versions=(before after)
declare -A me_port me_pid me_token
for version in "${versions[@]}"; do
  db="${database}_$version"
  psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  binary=$bin/user-service
  [ "$version" = before ] && binary=$before_binary
  port=$(free_port)
  env DATABASE_POOL_MAX="$pool" DATABASE_URL="$server/$db" MIGRATE_ON_START=true SEED_ON_START=true \
    HEALTH_PROBE_INTERVAL_MS=3600000 USER_SERVICE_HOST=127.0.0.1 USER_SERVICE_PORT="$port" \
    "$binary" >>"$out/service.log" 2>&1 &
  me_pid[$version]=$!; pids+=("$!")
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base:$port/health/db")" = 200 ] && break
    sleep 0.1
  done
  me_port[$version]=$port
  me_token[$version]=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"email":"test@chatai.com","password":"Test@123"}' "$base:$port/auth/login" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [ -n "${me_token[$version]}" ] || { say "login on the $version service failed"; exit 1; }
  for _ in 1 2 3; do call "$port" "${me_token[$version]}" GET /auth/me ""; done
  psql "$server/postgres" -qAt -c "SELECT pg_stat_statements_reset()" >/dev/null
  for _ in $(seq 1 100); do call "$port" "${me_token[$version]}" GET /auth/me ""; done
  calls=$(psql "$server/postgres" -qAt -c "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s
                                            JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'")
  record "me_statements_$version" "$(echo "scale=2; $calls / 100" | bc)"
done
me_of() { # version: /auth/me on the version's service, prints requests/s
  BENCH_METHOD=GET BENCH_BODY= load "me_$1" "$base:${me_port[$1]}/auth/me" -H "Authorization: Bearer ${me_token[$1]}"
}
for round in $(seq 1 "$api_rounds"); do
  say "round $round/$api_rounds: /auth/me before and after the session check (A B B A)"
  b1=$(me_of before); a1=$(me_of after); a2=$(me_of after); b2=$(me_of before)
  record me_session_ratio "$(echo "scale=4; ($a1 + $a2) / ($b1 + $b2)" | bc)"
done
tokens_file="$out/refresh_tokens.txt"
for round in $(seq 1 "$api_rounds"); do
  say "round $round/$api_rounds: POST /auth/refresh, every request spending a live token"
  # Fresh sessions each round, twice as many as connections: no token is ever sent twice.
  : >"$tokens_file"
  for _ in $(seq 1 $((connections * 2))); do
    curl -sf -X POST -H 'Content-Type: application/json' -d '{"email":"test@chatai.com","password":"Test@123"}' \
      "$base:${me_port[after]}/auth/login" | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p' >>"$tokens_file"
  done
  BENCH_TOKENS=$tokens_file BENCH_THREADS=2 wrk -t2 -c"$connections" -d"${duration}s" -s bench/refresh.lua \
    "$base:${me_port[after]}/auth/refresh" 2>/dev/null | record_wrk refresh
done
for version in "${versions[@]}"; do
  stop "${me_pid[$version]}"
  psql "$server/postgres" -qAt -c "DROP DATABASE IF EXISTS ${database}_$version WITH (FORCE)" >/dev/null
done

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
sed -n '/^## Targets/,/^## Every figure/p' docs/BENCHMARKS.md | grep -E '^\| ' || true
