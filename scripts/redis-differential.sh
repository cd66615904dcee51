#!/usr/bin/env bash
# Sends the same random commands to a fresh chiral-server and a fresh redis-server
# and compares every reply (tests/python/differential.py says what it draws and
# which differences it leaves out). Then SIGKILLs chiral-server, restarts it on its
# data directory, and checks that it holds what it held before, which is what Redis
# holds (tests/python/keyspace.py): every kind of write the commands made comes back
# from the log. Used by .ci/run; needs redis-server and the redis Python package.
# Usage: scripts/redis-differential.sh [seeds] [steps per seed]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-4}"
steps="${2:-5000}"
chiral_port=7397
redis_port=7398
# shellcheck source=benches/pair.sh
source benches/pair.sh
start_pair "--dir $work/chiral" "--appendonly no"
failed=0
for seed in $(seq "$seeds"); do
  # Odd seeds speak RESP2, even ones RESP3.
  protocol=$((2 + (seed + 1) % 2))
  python3 tests/python/differential.py "$seed" "$steps" "$chiral_port" "$redis_port" "$protocol" ||
    failed=1
done
python3 tests/python/keyspace.py "$redis_port" >"$work/redis-keys"
python3 tests/python/keyspace.py "$chiral_port" >"$work/chiral-keys"
{
  kill -KILL "$chiral_pid"
  wait "$chiral_pid" || true
} 2>/dev/null
RUST_LOG=warn "$chiral_server" --port "$chiral_port" --dir "$work/chiral" &
chiral_pid=$!
wait_for "$chiral_port"
python3 tests/python/keyspace.py "$chiral_port" >"$work/chiral-keys-restarted"
if ! diff -u "$work/chiral-keys" "$work/chiral-keys-restarted"; then
  echo "chiral-server's keys changed across a SIGKILL and restart (- before, + after)" >&2
  failed=1
fi
if ! diff -u "$work/redis-keys" "$work/chiral-keys"; then
  echo "the keys differ after the last seed (- Redis, + chiral)" >&2
  failed=1
fi
echo "$(wc -l <"$work/redis-keys") keys compared across the restart"
stop_pair
exit "$failed"
