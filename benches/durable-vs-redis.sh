#!/usr/bin/env bash
# SET answered only once it is on disk, chiral-server against redis-server in the
# same run: chiral with `--fsync always`, Redis with `appendonly yes` and
# `appendfsync always` (each reply after the fdatasync that covers its write). One
# client, then 64 (group commit), with redis-benchmark. Each round starts both
# servers afresh and measures them in turn, the order flipping from round to round.
# Usage: benches/durable-vs-redis.sh [rounds] [io-backend: std|uring|auto]
#   (needs redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
backend="${2:-std}"
chiral_port=7405
redis_port=7406
# shellcheck source=benches/pair.sh
source benches/pair.sh

# rate <port> <clients> <requests>: requests/s
rate() {
  redis-benchmark -p "$1" -c "$2" -n "$3" -r 100000 -t set --csv | tail -n 1 | cut -d, -f2 | tr -d '"'
}

echo "## SET, each reply after its fdatasync (chiral --io-backend $backend): requests/s"
printf '%-6s %8s %10s %10s %7s\n' round clients chiral redis "c/r"
for round in $(seq "$rounds"); do
  start_pair "--data-dir $work/chiral --fsync always --io-backend $backend" \
    "--appendonly yes --appendfsync always"
  for clients in 1 64; do
    requests=$((clients == 1 ? 4000 : 200000))
    if ((round % 2 == 1)); then
      c=$(rate "$chiral_port" "$clients" "$requests"); r=$(rate "$redis_port" "$clients" "$requests")
    else
      r=$(rate "$redis_port" "$clients" "$requests"); c=$(rate "$chiral_port" "$clients" "$requests")
    fi
    awk -v n="$round" -v k="$clients" -v c="$c" -v r="$r" \
      'BEGIN { printf "%-6s %8s %10.0f %10.0f %6.2fx\n", n, k, c, r, c / r }'
  done
  stop_pair
done
