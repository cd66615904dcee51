#!/usr/bin/env bash
# Tail latency at one request per connection, chiral-server against redis-server, over
# several rounds: on this kind of 2-core VM the p99 of one run moves by ±30% from
# round to round, so one run of compare-redis.sh cannot say whether chiral's p99 is
# worse than Redis's. Each round starts both servers afresh (in memory unless SETUP=log), SET-fills
# 100,000 random keys, then runs each test on chiral, then on Redis, and prints both
# p99s and their ratio; the last line gives the mean ratio per test.
# SETUP=log runs both with their logs (chiral in a data directory, Redis with
# appendonly and appendfsync everysec, as compare-redis.sh's log setup) instead.
# PIN=1 pins each server to CPU 1 and redis-benchmark to CPU 0 (then the scheduler
# no longer places either process's threads, which separates scheduling from the
# server's own work).
# Usage: benches/p99-rounds.sh [rounds] [tests] [requests]
#   (needs redis-server, redis-benchmark; CHIRAL_SERVER=<path> as in pair.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-4}"
tests="${2:-get,set}"
requests="${3:-300000}"
chiral_port=7407
redis_port=7408
# shellcheck source=benches/pair.sh
source benches/pair.sh

bench_cpu() { if [ "${PIN:-}" = 1 ]; then echo 0; else echo 0-$(($(nproc) - 1)); fi; }

# p99 <port> <test>: redis-benchmark's p99 in ms for one run at -P 1
p99() {
  taskset -c "$(bench_cpu)" redis-benchmark -p "$1" -n "$requests" -c 50 -P 1 -r 100000 \
    -t "$2" --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f7
}

case "${SETUP:-memory}" in
  memory) chiral_flags="--in-memory"; redis_flags="--appendonly no" ;;
  log)
    chiral_flags="--data-dir $work/chiral"
    redis_flags="--appendonly yes --appendfsync everysec"
    ;;
  *) echo "SETUP is memory or log" >&2; exit 2 ;;
esac

echo "## $requests requests per run, 50 clients, pipeline 1, ${SETUP:-memory}, pinned: ${PIN:-0}"
printf '%-6s %5s %10s %10s %7s\n' test round "chiral p99" "redis p99" ratio
results=""
for round in $(seq "$rounds"); do
  start_pair "$chiral_flags" "$redis_flags"
  if [ "${PIN:-}" = 1 ]; then
    taskset -a -p -c 1 "$chiral_pid" >/dev/null
    taskset -a -p -c 1 "$redis_pid" >/dev/null
  fi
  for port in "$chiral_port" "$redis_port"; do
    redis-benchmark -p "$port" -n 300000 -c 50 -P 16 -r 100000 -t set -q >/dev/null
  done
  for test in ${tests//,/ }; do
    chiral=$(p99 "$chiral_port" "$test")
    redis=$(p99 "$redis_port" "$test")
    line=$(awk -v t="$test" -v r="$round" -v c="$chiral" -v d="$redis" \
      'BEGIN { printf "%-6s %5d %10.3f %10.3f %6.2fx", t, r, c, d, c / d }')
    echo "$line"
    results+="$line"$'\n'
  done
  stop_pair
done
printf '%s' "$results" | awk '{ sum[$1] += $5; n[$1]++ }
  END { for (t in sum) printf "%-6s mean ratio of p99s over %d rounds: %.2fx\n", t, n[t], sum[t] / n[t] }'
