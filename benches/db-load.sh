#!/usr/bin/env bash
# Database load test, TechEmpower style: "single query" (/db: one random row
# of 10,000 as JSON) and "fortunes" (/fortunes: 12 rows plus one, sorted,
# rendered as HTML), Bao (`bao-bench`: models and a typed view) against
# actix-web + diesel + askama by hand (`raw-actix-db`), on SQLite and on the
# local PostgreSQL, 127.0.0.1 only. Prints median requests/s and the ratio.
#
#   benches/db-load.sh                    # 3 alternating rounds of 5 s
#   ROUNDS=5 DURATION=10s benches/db-load.sh
#
# Needs wrk; PostgreSQL at $PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server_cpu=() ; client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0) ; client_cpu=(taskset -c 1)
fi
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p benches --bin bao-bench --bin raw-actix-db
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"
work=$(mktemp -d)
pg_db="bao_bench_$$"
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
pids=()
trap cleanup EXIT

seed_sql() {
  python3 - <<'PY'
import random
random.seed(7)
print("INSERT INTO worlds (random_number) VALUES " + ",".join(f"({random.randint(1, 10000)})" for _ in range(10000)) + ";")
fortunes = ["fortune: No such file or directory", "A computer scientist is someone who fixes things that aren't broken.",
  "After enough decimal places, nobody gives a damn.", "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
  "A computer program does what you tell it to do, not what you want it to do.", "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
  "Any program that runs right is obsolete.", "A list is only as strong as its weakest link. — Donald Knuth",
  "Feature: A bug with seniority.", "Computers make very fast, very accurate mistakes.",
  "<script>alert(\"This should not be displayed in a browser alert box.\");</script>", "フレームワークのベンチマーク"]
print("INSERT INTO fortunes (message) VALUES " + ",".join("('" + f.replace("'", "''") + "')" for f in fortunes) + ";")
PY
}

rps() { "${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.0f}")' "$@"; }

printf '%-9s %-10s %12s %12s %7s\n' database endpoint "bao req/s" "raw req/s" ratio
for database in sqlite postgres; do
  if [ "$database" = sqlite ]; then
    url="sqlite://$work/bench.db"
  else
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
    url="${PG_ADMIN_URL%/*}/$pg_db"
  fi
  BAO_DATABASE_URL="$url" BAO_MIGRATIONS_DIR=benches/migrations BAO_LOG_LEVEL=warn "$bin/bao-bench" migrate >/dev/null
  if [ "$database" = sqlite ]; then
    seed_sql | python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read()); c.commit()' "$work/bench.db"
  else
    seed_sql | psql -q "$url" >/dev/null
  fi
  BAO_DATABASE_URL="$url" BAO_MIGRATIONS_DIR=benches/migrations BAO_LOG_LEVEL=warn BAO_WORKERS=$WORKERS \
    "${server_cpu[@]}" "$bin/bao-bench" serve --port 18090 >/dev/null 2>&1 &
  pids+=($!)
  DATABASE_URL="$url" PORT=18091 WORKERS=$WORKERS "${server_cpu[@]}" "$bin/raw-actix-db" >/dev/null 2>&1 &
  pids+=($!)
  for port in 18090 18091; do
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  done
  for endpoint in db fortunes; do
    bao=() raw=()
    for round in $(seq "$ROUNDS"); do
      if [ $((round % 2)) = 1 ]; then
        raw+=("$(rps "http://127.0.0.1:18091/$endpoint")"); bao+=("$(rps "http://127.0.0.1:18090/$endpoint")")
      else
        bao+=("$(rps "http://127.0.0.1:18090/$endpoint")"); raw+=("$(rps "http://127.0.0.1:18091/$endpoint")")
      fi
    done
    b=$(median "${bao[@]}"); r=$(median "${raw[@]}")
    printf '%-9s %-10s %12s %12s %7s\n' "$database" "$endpoint" "$b" "$r" "$(python3 -c "print(f'{$b/$r:.3f}')")"
  done
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
done
