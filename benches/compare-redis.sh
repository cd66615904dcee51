#!/usr/bin/env bash
# chiral-server against redis-server, same machine, same run, same redis-benchmark
# load (random keys from a space of 100,000): prints requests/s for each, the ratio
# chiral / redis, and p50 / p99 latencies in ms.
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
work="$(mktemp -d)"
cleanup() {
  redis-cli -p "$chiral_port" shutdown >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
cargo build --quiet --release -p chiral-net --bin chiral-server

wait_for() {
  for _ in $(seq 200); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "nothing answers on port $1" >&2
  exit 1
}

# bench <port> <pipeline>: "test rps p50 p99" lines
bench() {
  redis-benchmark -p "$1" -n "$requests" -c "$clients" -P "$2" -r 100000 -t "$tests" --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | awk -F, '{gsub(/ /, "_", $1); print $1, $2, $5, $7}'
}

run_setup() { # run_setup <name> <chiral flags> <redis flags>
  local name="$1" chiral_flags="$2" redis_flags="$3"
  rm -rf "$work/chiral" "$work/redis"; mkdir -p "$work/redis"
  # shellcheck disable=SC2086
  RUST_LOG=warn target/release/chiral-server --port "$chiral_port" $chiral_flags &
  # shellcheck disable=SC2086
  redis-server --port "$redis_port" --dir "$work/redis" --save "" $redis_flags --daemonize yes \
    --logfile "$work/redis.log"
  wait_for "$chiral_port"; wait_for "$redis_port"
  for pipeline in 1 16; do
    echo "## $name, $clients clients, pipeline $pipeline, $requests requests"
    printf '%-16s %10s %10s %7s %11s %11s\n' test chiral/s redis/s ratio "p50 c/r" "p99 c/r"
    join <(bench "$chiral_port" "$pipeline" | sort) <(bench "$redis_port" "$pipeline" | sort) |
      awk '{printf "%-16s %10.0f %10.0f %6.2fx %5.3f/%5.3f %5.3f/%5.3f\n", $1, $2, $5, $2 / $5, $3, $6, $4, $7}'
  done
  redis-cli -p "$chiral_port" shutdown >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  wait
  sleep 0.5
}

run_setup memory "--in-memory" "--appendonly no"
run_setup log "--dir $work/chiral" "--appendonly yes --appendfsync everysec"
