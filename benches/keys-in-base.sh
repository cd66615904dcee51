#!/usr/bin/env bash
# Pipelined commands on keys that live in the snapshot (the mapped base) against the
# same commands in memory and against Redis: requests/s and server CPU µs per
# request. Each server is SET-filled from a space of <keyspace> random keys (three
# SETs per key of the space, so nearly every key exists); chiral with a data
# directory then takes a snapshot (SAVE), so the keys are read from the base, not
# the overlay. A test that writes moves the keys it writes to the overlay: keep its
# requests below the key space to measure writes of keys in the base.
# Usage: benches/keys-in-base.sh [requests] [pipeline] [tests] [keyspace]
#   e.g. benches/keys-in-base.sh 2000000 16 get; benches/keys-in-base.sh 300000 16 set 1000000
#   (needs redis-server, redis-benchmark; CHIRAL_SERVER=<path> as in pair.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000000}"
pipeline="${2:-16}"
tests="${3:-get}"
keyspace="${4:-100000}"
chiral_port=7405
redis_port=7406
# shellcheck source=benches/pair.sh
source benches/pair.sh

# measure <label> <port> <pid>: fills, then prints "label test requests/s µs" for
# each test
measure() {
  redis-benchmark -p "$2" -n $((3 * keyspace)) -c 50 -P 16 -r "$keyspace" -t set -q >/dev/null
  if [ "$1" = "chiral-base" ]; then
    redis-cli -p "$2" save >/dev/null
  fi
  for test in ${tests//,/ }; do
    printf '%-12s %-6s %s\n' "$1" "$test" \
      "$(cpu_per_request "$3" "$requests" -p "$2" -c 50 -P "$pipeline" -r "$keyspace" -t "$test")"
  done
}

echo "## $requests requests, 50 clients, pipeline $pipeline, $keyspace keys: requests/s and server CPU µs per request"
start_pair "--dir $work/chiral" "--appendonly no"
measure chiral-base "$chiral_port" "$chiral_pid"
measure redis "$redis_port" "$redis_pid"
stop_pair
start_pair "--in-memory" "--appendonly no"
measure chiral-mem "$chiral_port" "$chiral_pid"
stop_pair
