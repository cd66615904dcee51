#!/usr/bin/env bash
# chiral-server against redis-server, same machine, same run, same redis-benchmark
# load (random keys from a space of 100,000): prints requests/s for each, the ratio
# chiral / redis, and p50 / p99 latencies in ms. One server is measured at a time,
# test by test (chiral, then Redis, for each test), so neither competes with the
# other's load for the machine's cores.
# Two setups: "memory" (no persistence on either side) and "log" (chiral's default
# write-ahead log fsync'd every second against Redis's appendonly + everysec).
# Usage: benches/compare-redis.sh [requests] [clients]   (needs redis-server,
# redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-200000}"
clients="${2:-50}"
tests="set,get,incr,lpush,rpop,sadd,hset,mset"
chiral_port=7401
redis_port=7402
# shellcheck source=benches/pair.sh
source benches/pair.sh

# bench <port> <pipeline> <test>: a "test rps p50 p99" line
bench() {
  redis-benchmark -p "$1" -n "$requests" -c "$clients" -P "$2" -r 100000 -t "$3" --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | awk -F, '{gsub(/ /, "_", $1); print $1, $2, $5, $7}'
}

run_setup() { # run_setup <name> <chiral flags> <redis flags>
  local name="$1"
  start_pair "$2" "$3"
  for pipeline in 1 16; do
    echo "## $name, $clients clients, pipeline $pipeline, $requests requests"
    printf '%-16s %10s %10s %7s %11s %11s\n' test chiral/s redis/s ratio "p50 c/r" "p99 c/r"
    for test in ${tests//,/ }; do
      # Sequential on purpose: run side by side (as this script did until
      # 2026-12-04), the two loads shared two cores, and the ratios measured the
      # servers' share of a contended machine rather than their throughput.
      chiral=$(bench "$chiral_port" "$pipeline" "$test")
      redis=$(bench "$redis_port" "$pipeline" "$test")
      echo "$chiral $redis" |
        awk '{printf "%-16s %10.0f %10.0f %6.2fx %5.3f/%5.3f %5.3f/%5.3f\n", $1, $2, $6, $2 / $6, $3, $7, $4, $8}'
    done
  done
  stop_pair
}

run_setup memory "--in-memory" "--appendonly no"
run_setup log "--dir $work/chiral" "--appendonly yes --appendfsync everysec"
