#!/usr/bin/env bash
# Server CPU per request in the state compare-redis.sh's log setup reaches: chiral
# with a data directory (so a snapshot, the base, holds the keys, and the writes
# since it sit in the overlay too) and Redis with appendonly and everysec, each
# first loaded with compare-redis's P1 tests in its order (200k requests each, `-r
# 100000`) and one P16 SET run. Then each test runs <rounds> times: requests/s and
# the server's user + system µs per request (from /proc).
# Usage: benches/after-writes.sh [requests] [tests] [rounds]
#   e.g. benches/after-writes.sh 2000000 get,set 3
#   (needs redis-server, redis-benchmark; CHIRAL_SERVER=<path> as in pair.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000000}"
tests="${2:-get,set}"
rounds="${3:-3}"
chiral_port=7409
redis_port=7410
# shellcheck source=benches/pair.sh
source benches/pair.sh

# measure <label> <port> <pid>: loads, then prints "label test requests/s µs" for
# each round of each test
measure() {
  for test in set get incr lpush rpop sadd hset mset; do
    redis-benchmark -p "$2" -n 200000 -c 50 -P 1 -r 100000 -t "$test" -q >/dev/null
  done
  redis-benchmark -p "$2" -n 200000 -c 50 -P 16 -r 100000 -t set -q >/dev/null
  for test in ${tests//,/ }; do
    for _ in $(seq "$rounds"); do
      printf '%-7s %-6s %s\n' "$1" "$test" \
        "$(cpu_per_request "$3" "$requests" -p "$2" -c 50 -P 16 -r 100000 -t "$test")"
    done
  done
}

echo "## $requests requests, 50 clients, pipeline 16, after compare-redis's writes: requests/s and server CPU µs per request"
start_pair "--dir $work/chiral" "--appendonly yes --appendfsync everysec"
measure chiral "$chiral_port" "$chiral_pid"
measure redis "$redis_port" "$redis_pid"
stop_pair
