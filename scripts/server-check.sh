#!/usr/bin/env bash
# Drives a real chiral-server with stock Redis tools: redis-cli, redis-benchmark and
# redis-py, and with chiral-cli (the Boutique script). Used by .ci/run; needs
# redis-tools and the redis Python package.
# Usage: scripts/server-check.sh [extra chiral-server flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

port=7399
work="$(mktemp -d)"
cargo build --quiet --release -p chiral-net --bin chiral-server --bin chiral-cli
target/release/chiral-server --dir "$work/data" --port "$port" "$@" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done

expect() { # expect <expected output> <redis-cli arguments...>
  local expected="$1"; shift
  local got
  got="$(redis-cli -p "$port" "$@" 2>&1)"
  if [ "$got" != "$expected" ]; then
    echo "redis-cli $*: got '$got', expected '$expected'" >&2
    exit 1
  fi
}
expect PONG ping
expect OK set greeting hello
expect hello get greeting
expect 1 exists greeting
expect 10 append greeting ", you"
expect "ERR wrong number of arguments for 'get' command" get
expect "WRONGTYPE Operation against a key holding the wrong kind of value" lpush greeting x
expect 3 rpush list a b c
expect "$(printf 'a\nb\nc')" lrange list 0 -1
# A script piped into redis-cli, one command per line.
printf 'SET piped 1\nINCR piped\nGET piped\n' | redis-cli -p "$port" >"$work/piped"
[ "$(tail -n 1 "$work/piped")" = 2 ] || { echo "piped script: $(cat "$work/piped")" >&2; exit 1; }
echo "redis-cli: all checks passed"

redis-benchmark -p "$port" -q -n 20000 -c 20 -P 8 -t set,get,incr,lpush,rpop,sadd,hset,mset >"$work/bench"
grep -c 'requests per second' "$work/bench" | grep -qx 8 || { cat "$work/bench" >&2; exit 1; }
echo "redis-benchmark: every test ran"

python3 tests/python/redis_py_check.py "$port"

# The Boutique use case through chiral-cli, then its documents seen by redis-cli.
target/release/chiral-cli -p "$port" -f net/tests/boutique/boutique.bq >"$work/boutique"
diff "$work/boutique" net/tests/boutique/boutique.out || { echo "chiral-cli: the Boutique script's output differs" >&2; exit 1; }
expect 1 doc.set users u1 last_login_time 7
expect document type users:u1
expect 7 doc.get users u1 last_login_time
echo "chiral-cli: the Boutique script ran"

redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
wait "$server"
echo "chiral-server: clean shutdown"
