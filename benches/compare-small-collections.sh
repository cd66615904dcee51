#!/usr/bin/env bash
# Many small collections, chiral-server against redis-server, same run: 100,000 keys
# each holding a hash of five fields (five HSET passes of one field each) and as many
# keys holding short lists, then HSET, HGET, HGETALL, RPUSH and LRANGE on random keys.
# Prints each server's requests/s and its CPU time per request (user + system from
# /proc over the run, as benches/cpu-per-request.sh), then both resident sizes.
# Both servers keep no data on disk.
# Usage: benches/compare-small-collections.sh [requests] [pipeline]
#   (needs redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-1000000}"
pipeline="${2:-16}"
keys=100000
chiral_port=7405
redis_port=7406
# shellcheck source=benches/pair.sh
source benches/pair.sh
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# fill <port>: the hashes, one field per pass
fill() {
  for field in f1 f2 f3 f4 f5; do
    redis-benchmark -p "$1" -n "$keys" -c 50 -P 16 -r "$keys" \
      HSET "user:__rand_int__" "$field" "__rand_int__" >/dev/null
  done
}

# measure <port> <pid> <command...>: "requests/s µs-of-CPU-per-request"
measure() {
  local port="$1" pid="$2"
  shift 2
  cpu_per_request "$pid" "$requests" -p "$port" -c 50 -P "$pipeline" -r "$keys" "$@"
}

start_pair "--in-memory" "--appendonly no"
fill "$chiral_port"
fill "$redis_port"
echo "## $keys keys of 5-field hashes, then short lists; $requests requests, 50 clients, pipeline $pipeline"
printf '%-40s %10s %8s %10s %8s %7s\n' command chiral/s "µs" redis/s "µs" "CPU c/r"
for command in "HSET user:__rand_int__ f3 __rand_int__" "HGET user:__rand_int__ f3" \
  "HGETALL user:__rand_int__" "RPUSH queue:__rand_int__ __rand_int__" \
  "LRANGE queue:__rand_int__ 0 -1"; do
  # shellcheck disable=SC2086
  read -r c_rps c_us <<<"$(measure "$chiral_port" "$chiral_pid" $command)"
  # shellcheck disable=SC2086
  read -r r_rps r_us <<<"$(measure "$redis_port" "$redis_pid" $command)"
  awk -v t="$command" -v a="$c_rps" -v b="$c_us" -v c="$r_rps" -v d="$r_us" \
    'BEGIN { printf "%-40s %10.0f %8.2f %10.0f %8.2f %6.2fx\n", t, a, b, c, d, b / d }'
done
echo "resident: chiral $(($(rss_kib "$chiral_pid") / 1024)) MiB, redis $(($(rss_kib "$redis_pid") / 1024)) MiB"
stop_pair
