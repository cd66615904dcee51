#!/usr/bin/env bash
# Documents against Redis hashes, same machine, same run, same redis-benchmark load:
# a document of five fields in a chiral collection against a Redis hash of the same
# five fields. Reads: a projected document read (one field of five, DOC.GET ... f3)
# against HGET; writes: a full-document write (DOC.SET of all five fields) against
# HSET of all five. Random ids from a space of `keys`, loaded beforehand on both
# sides. Prints requests/s for each, the ratio chiral / redis, and p50 / p99 in ms.
# Usage: benches/compare-documents.sh [requests] [clients] [keys]   (needs
# redis-server, redis-cli, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-200000}"
clients="${2:-50}"
keys="${3:-100000}"
chiral_port=7403
redis_port=7404
# shellcheck source=benches/pair.sh
source benches/pair.sh

fields="f1 1312309023 f2 /dashboard/settings f3 42 f4 Ada f5 true"

# load: the same ids (redis-benchmark's __rand_int__ form: 12 digits) on both sides.
load() {
  redis-cli -p "$chiral_port" SCHEMA.CREATE doc id string16 f1 uint64 f2 string64 \
    f3 uint64 f4 string32 f5 bool >/dev/null
  redis-cli -p "$chiral_port" COLL.CREATE users doc id >/dev/null
  seq -f '%012g' 0 $((keys - 1)) | awk -v f="$fields" '{print "DOC.SET users " $1 " " f}' |
    redis-cli -p "$chiral_port" --pipe >/dev/null
  seq -f '%012g' 0 $((keys - 1)) | awk -v f="$fields" '{print "HSET user:" $1 " " f}' |
    redis-cli -p "$redis_port" --pipe >/dev/null
}

# bench <port> <pipeline> <command...>: "rps p50 p99"
bench() {
  local port="$1" pipeline="$2"
  shift 2
  redis-benchmark -p "$port" -n "$requests" -c "$clients" -P "$pipeline" -r "$keys" --csv "$@" \
    2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{print $2, $5, $7}'
}

compare() { # compare <name> <pipeline> <chiral command> -- <redis command>
  local name="$1" pipeline="$2"
  shift 2
  local chiral=() redis=()
  while [ "$1" != "--" ]; do chiral+=("$1"); shift; done
  shift
  redis=("$@")
  read -r c_rps c_p50 c_p99 <<<"$(bench "$chiral_port" "$pipeline" "${chiral[@]}")"
  read -r r_rps r_p50 r_p99 <<<"$(bench "$redis_port" "$pipeline" "${redis[@]}")"
  awk -v n="$name" -v cr="$c_rps" -v rr="$r_rps" -v c5="$c_p50" -v r5="$r_p50" -v c9="$c_p99" -v r9="$r_p99" \
    'BEGIN {printf "%-34s %10.0f %10.0f %6.2fx %5.3f/%5.3f %5.3f/%5.3f\n", n, cr, rr, cr / rr, c5, r5, c9, r9}'
}

run_setup() { # run_setup <name> <chiral flags> <redis flags>
  local name="$1"
  start_pair "$2" "$3"
  load
  for pipeline in 1 16; do
    echo "## $name, $keys documents, $clients clients, pipeline $pipeline, $requests requests"
    printf '%-34s %10s %10s %7s %11s %11s\n' test chiral/s redis/s ratio "p50 c/r" "p99 c/r"
    # shellcheck disable=SC2086
    compare "read 1 of 5 (DOC.GET f3 / HGET)" "$pipeline" \
      DOC.GET users __rand_int__ f3 -- HGET user:__rand_int__ f3
    # shellcheck disable=SC2086
    compare "write 5 of 5 (DOC.SET / HSET)" "$pipeline" \
      DOC.SET users __rand_int__ $fields -- HSET user:__rand_int__ $fields
  done
  stop_pair
}

run_setup memory "--in-memory" "--appendonly no"
run_setup log "--dir $work/chiral" "--appendonly yes --appendfsync everysec"
