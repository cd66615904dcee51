#!/usr/bin/env bash
# Pipelined GETs of keys that live in the snapshot (the mapped base) against the same
# GETs in memory and against Redis: requests/s and server CPU µs per request.
# Each server is SET-filled with 100,000 random keys; chiral with a data directory
# then takes a snapshot (SAVE), so every key is read from the base, not the overlay.
# Usage: benches/base-get.sh [requests] [pipeline]   (needs redis-server,
# redis-benchmark; CHIRAL_SERVER=<path> as in pair.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000000}"
pipeline="${2:-16}"
chiral_port=7405
redis_port=7406
# shellcheck source=benches/pair.sh
source benches/pair.sh

# measure <label> <port> <pid>: fills, then prints "label requests/s µs-per-request"
measure() {
  redis-benchmark -p "$2" -n 300000 -c 50 -P 16 -r 100000 -t set -q >/dev/null
  if [ "$1" = "chiral-base" ]; then
    redis-cli -p "$2" save >/dev/null
  fi
  printf '%-12s %s\n' "$1" "$(cpu_per_request "$3" "$requests" -p "$2" -c 50 -P "$pipeline" -r 100000 -t get)"
}

echo "## $requests GETs, 50 clients, pipeline $pipeline: requests/s and server CPU µs per request"
start_pair "--dir $work/chiral" "--appendonly no"
measure chiral-base "$chiral_port" "$chiral_pid"
measure redis "$redis_port" "$redis_pid"
stop_pair
start_pair "--in-memory" "--appendonly no"
measure chiral-mem "$chiral_port" "$chiral_pid"
stop_pair
