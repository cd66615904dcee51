#!/usr/bin/env bash
# Time from start to the first answered read, Chiral against Redis 7, same data:
# N keys ("key:<i>") with 32-byte values. Chiral maps its snapshot; Redis loads its
# RDB file. Both files are in the page cache (each was just written).
# Usage: benches/restart_vs_redis.sh [N]   (default 1000000; needs redis-server)
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-1000000}"
port=7399
work="$(mktemp -d)"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --quiet --release -p chiral-benches --example durability
chiral_out="$(RUST_LOG=warn target/release/examples/durability restart --keys "$keys" --dir "$work/chiral")"
echo "$chiral_out"
chiral_s="$(sed -n 's/^open_to_first_read_seconds=//p' <<<"$chiral_out")"

start_redis() {
  redis-server --port "$port" --dir "$work" --dbfilename dump.rdb --save "" \
    --appendonly no --enable-debug-command local --daemonize yes --logfile "$work/redis.log"
}
start_redis
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.01; done
redis-cli -p "$port" debug populate "$keys" key 32 >/dev/null
loaded="$(redis-cli -p "$port" dbsize)"
[ "$loaded" = "$keys" ] || { echo "redis holds $loaded keys, expected $keys" >&2; exit 1; }
redis-cli -p "$port" save >/dev/null
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
while redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.01; done
: >"$work/redis.log"
probe="key:$((keys / 2))"
started="$(date +%s.%N)"
start_redis
# EXISTS answers 1 only once the RDB is loaded (LOADING errors before that).
until [ "$(redis-cli -p "$port" exists "$probe" 2>/dev/null)" = 1 ]; do
  sleep 0.005
done
ended="$(date +%s.%N)"
redis_polled_s="$(echo "$ended - $started" | bc -l)"
redis_loaded_s="$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$work/redis.log")"
echo "redis: RDB of $keys keys loaded in ${redis_loaded_s}s (its log); first EXISTS answered after ${redis_polled_s}s (polled)"
echo "chiral: first read answered after ${chiral_s}s (median of 5 opens)"
printf 'ratio (redis load / chiral open-to-first-read): %.1fx\n' "$(echo "$redis_loaded_s / $chiral_s" | bc -l)"
