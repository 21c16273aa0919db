#!/usr/bin/env bash
# Load test: the release build of `example` against a bare actix-web app on the
# same endpoints (/plaintext, /json), in one run, on 127.0.0.1 only.
#
#   benches/load.sh                       # 3 alternating rounds of 5 s per endpoint
#   ROUNDS=5 DURATION=10s benches/load.sh
#   SECURITY_HEADERS=1 benches/load.sh    # the raw app also sends Bao's security headers
#
# Prints the median requests/s of each server over the rounds and their ratio,
# then the release example's start-up time and idle memory. Needs wrk (Debian:
# wrk). On a shared VM single runs vary by 10-20%: compare medians of several
# rounds, never one run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-1}
BAO_PORT_=${BAO_BENCH_PORT:-18080}
RAW_PORT=${RAW_BENCH_PORT:-18081}
# With two or more CPUs the servers run on CPU 0 and wrk on CPU 1, so the
# load generator does not steal the server's time (PIN=0 disables this).
PIN=${PIN:-1}
server_cpu=() ; client_cpu=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0) ; client_cpu=(taskset -c 1)
fi

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p example -p benches
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"

work=$(mktemp -d)
export BAO_DATABASE_URL="sqlite://$work/bench.db"
BAO_LOG_LEVEL=warn BAO_WORKERS=$WORKERS "${server_cpu[@]}" "$bin/example" serve --port "$BAO_PORT_" >/dev/null 2>&1 &
bao_pid=$!
SECURITY_HEADERS=${SECURITY_HEADERS:-0} PORT=$RAW_PORT WORKERS=$WORKERS "${server_cpu[@]}" "$bin/raw-actix" >/dev/null 2>&1 &
raw_pid=$!
trap 'kill $bao_pid $raw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in "$BAO_PORT_" "$RAW_PORT"; do
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.05
  done
done

# rps URL -> requests per second
rps() {
  "${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'
}

median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.0f}")' "$@"; }

printf '%-10s %12s %12s %7s\n' endpoint "bao req/s" "raw req/s" ratio
for endpoint in plaintext json; do
  bao_rps=() raw_rps=()
  for round in $(seq "$ROUNDS"); do
    # Alternate the order so neither server always meets a warmer machine.
    if [ $((round % 2)) = 1 ]; then order="raw bao"; else order="bao raw"; fi
    for who in $order; do
      if [ "$who" = bao ]; then
        bao_rps+=("$(rps "http://127.0.0.1:$BAO_PORT_/$endpoint")")
      else
        raw_rps+=("$(rps "http://127.0.0.1:$RAW_PORT/$endpoint")")
      fi
    done
  done
  b=$(median "${bao_rps[@]}"); r=$(median "${raw_rps[@]}")
  printf '%-10s %12s %12s %7s\n' "$endpoint" "$b" "$r" "$(python3 -c "print(f'{$b/$r:.3f}')")"
done

kill $bao_pid $raw_pid 2>/dev/null || true
wait 2>/dev/null || true

echo
echo "start-up and idle memory (release example, BAO_WORKERS=$WORKERS):"
BAO_LOG_LEVEL=warn BAO_WORKERS=$WORKERS "$bin/startup-probe" "$BAO_PORT_" "$bin/example" serve --port "$BAO_PORT_"
echo "start-up and idle memory (release example, default workers = CPUs):"
BAO_LOG_LEVEL=warn "$bin/startup-probe" "$BAO_PORT_" "$bin/example" serve --port "$BAO_PORT_"
