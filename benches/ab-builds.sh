#!/usr/bin/env bash
# Two chiral-server builds against each other: server CPU µs per request and
# requests/s for each test, in rounds that alternate the builds (the order flips every
# round), each on a fresh in-memory server first filled with 300,000 SETs of 100,000
# random keys. Both builds meet the same machine, so a change of a few percent shows
# where single runs of compare-redis.sh swing by 10-20%.
# Usage: benches/ab-builds.sh <build A> <build B> [rounds] [pipeline] [tests]
#   e.g. benches/ab-builds.sh /tmp/chiral-server-before target/release/chiral-server 3 16 set,lpush,hset
#   CHIRAL_FLAGS="<flags>" adds flags to both servers (e.g. "--timeout 300");
#   REQUESTS=<n> sets the requests of each test (default 2,000,000).
#   (needs redis-benchmark, redis-cli)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,11p' "$0"; exit 2; }
build_a="$1"
build_b="$2"
rounds="${3:-3}"
pipeline="${4:-16}"
tests="${5:-set,lpush,hset}"
requests="${REQUESTS:-2000000}"
chiral_port=7405
redis_port=7406
# shellcheck source=benches/pair.sh
CHIRAL_SERVER="$build_a" source benches/pair.sh

# measure <label> <build>: one line of "test requests/s µs-per-request" for the build
measure() {
  local line="$1:" rps us
  # shellcheck disable=SC2086
  RUST_LOG=warn "$2" --port "$chiral_port" --in-memory ${CHIRAL_FLAGS:-} &
  local pid=$!
  wait_for "$chiral_port"
  redis-benchmark -p "$chiral_port" -n 300000 -c 50 -P 16 -r 100000 -t set -q >/dev/null
  for test in ${tests//,/ }; do
    read -r rps us <<<"$(cpu_per_request "$pid" "$requests" -p "$chiral_port" -c 50 -P "$pipeline" -r 100000 -t "$test")"
    line="$line $test ${rps%.*}/s ${us}µs"
  done
  redis-cli -p "$chiral_port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  echo "$line"
}

echo "## $requests requests a test, 50 clients, pipeline $pipeline; A = $build_a, B = $build_b"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    measure A "$build_a"; measure B "$build_b"
  else
    measure B "$build_b"; measure A "$build_a"
  fi
done
