#!/usr/bin/env bash
# Point reads of large collections that live in the snapshot: one hash, one set and
# one list of about 100,000 items each (written by redis-benchmark's HSET, SADD and
# LPUSH), then chiral-server is restarted, so it reads them from the mapped snapshot
# in place, while redis-server keeps them in memory. Prints requests/s for each, the
# ratio chiral / redis, and p50 / p99 latencies in ms, without and with -P 16.
# Usage: benches/compare-collections.sh [requests] [clients]   (needs redis-server,
# redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-100000}"
clients="${2:-50}"
chiral_port=7403
redis_port=7404
# shellcheck source=benches/pair.sh
source benches/pair.sh

load() { # load <port>
  redis-benchmark -p "$1" -n 400000 -c 50 -P 16 -r 100000 -t hset,sadd,lpush -q >/dev/null
}

# bench <port> <pipeline> <name> <command...>: "name rps p50 p99"
bench() {
  local port="$1" pipeline="$2" name="$3"
  shift 3
  redis-benchmark -p "$port" -n "$requests" -c "$clients" -P "$pipeline" -r 100000 --csv "$@" \
    2>/dev/null | tail -n 1 | tr -d '"' | awk -F, -v name="$name" '{print name, $2, $5, $7}'
}

start_pair "--dir $work/chiral" "--appendonly yes --appendfsync everysec"
load "$chiral_port"
load "$redis_port"
# The clean close writes a snapshot; the reopened server reads the collections from it.
redis-cli -p "$chiral_port" shutdown >/dev/null
wait
RUST_LOG=warn target/release/chiral-server --port "$chiral_port" --dir "$work/chiral" &
wait_for "$chiral_port"
echo "sizes (chiral, redis): HLEN $(redis-cli -p "$chiral_port" hlen myhash) $(redis-cli -p "$redis_port" hlen myhash)," \
  "SCARD $(redis-cli -p "$chiral_port" scard myset) $(redis-cli -p "$redis_port" scard myset)," \
  "LLEN $(redis-cli -p "$chiral_port" llen mylist) $(redis-cli -p "$redis_port" llen mylist)"
for pipeline in 1 16; do
  echo "## $clients clients, pipeline $pipeline, $requests requests"
  printf '%-10s %10s %10s %7s %11s %11s\n' test chiral/s redis/s ratio "p50 c/r" "p99 c/r"
  for port in "$chiral_port" "$redis_port"; do
    bench "$port" "$pipeline" HGET HGET myhash element:__rand_int__
    bench "$port" "$pipeline" SISMEMBER SISMEMBER myset element:__rand_int__
    bench "$port" "$pipeline" LINDEX LINDEX mylist 50000
    bench "$port" "$pipeline" LRANGE_10 LRANGE mylist 50000 50009
  done | awk '{rows[$1] = rows[$1] " " $2 " " $3 " " $4; order[NR] = $1}
    END {for (i = 1; i <= NR / 2; i++) {split(rows[order[i]], v, " ");
      printf "%-10s %10.0f %10.0f %6.2fx %5.3f/%5.3f %5.3f/%5.3f\n", order[i], v[1], v[4], v[1] / v[4], v[2], v[5], v[3], v[6]}}'
done
stop_pair
