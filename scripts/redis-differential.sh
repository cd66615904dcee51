#!/usr/bin/env bash
# Sends the same random commands to a fresh in-memory chiral-server and a fresh
# redis-server and compares every reply (tests/python/differential.py says what it
# draws and which differences it leaves out). Used by .ci/run; needs redis-server
# and the redis Python package.
# Usage: scripts/redis-differential.sh [seeds] [steps per seed]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-4}"
steps="${2:-5000}"
chiral_port=7397
redis_port=7398
# shellcheck source=benches/pair.sh
source benches/pair.sh
start_pair "--in-memory" "--appendonly no"
failed=0
for seed in $(seq "$seeds"); do
  # Odd seeds speak RESP2, even ones RESP3.
  protocol=$((2 + (seed + 1) % 2))
  python3 tests/python/differential.py "$seed" "$steps" "$chiral_port" "$redis_port" "$protocol" ||
    failed=1
done
stop_pair
exit "$failed"
