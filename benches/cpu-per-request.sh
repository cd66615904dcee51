#!/usr/bin/env bash
# Server CPU time per request, chiral-server against redis-server, same run: the
# server process's user + system time (from /proc) over one redis-benchmark run,
# divided by its requests. Less noisy than requests/s on a shared 2-core machine,
# where the benchmark client competes with the server for the same cores.
# Both servers keep no data on disk ("--in-memory" against "--save '' --appendonly no");
# each test first fills 100,000 random keys with SET so GET hits.
# Usage: benches/cpu-per-request.sh [requests] [pipeline] [tests]
#   (needs redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-300000}"
pipeline="${2:-1}"
tests="${3:-get,set,incr,hset,sadd}"
chiral_port=7403
redis_port=7404
# shellcheck source=benches/pair.sh
source benches/pair.sh

# measure <port> <pid> <test>: "requests/s µs-of-CPU-per-request"
measure() {
  redis-benchmark -p "$1" -n 300000 -c 50 -P 16 -r 100000 -t set -q >/dev/null
  cpu_per_request "$2" "$requests" -p "$1" -c 50 -P "$pipeline" -r 100000 -t "$3"
}

start_pair "--in-memory" "--appendonly no"
echo "## $requests requests, 50 clients, pipeline $pipeline: requests/s and server CPU µs per request"
printf '%-6s %10s %8s %10s %8s %7s\n' test chiral/s "µs" redis/s "µs" "CPU c/r"
for test in ${tests//,/ }; do
  read -r c_rps c_us <<<"$(measure "$chiral_port" "$chiral_pid" "$test")"
  read -r r_rps r_us <<<"$(measure "$redis_port" "$redis_pid" "$test")"
  awk -v t="$test" -v a="$c_rps" -v b="$c_us" -v c="$r_rps" -v d="$r_us" \
    'BEGIN { printf "%-6s %10.0f %8.2f %10.0f %8.2f %6.2fx\n", t, a, b, c, d, b / d }'
done
stop_pair
