# Sourced by the comparison scripts: a chiral-server and a redis-server side by side,
# on the ports in $chiral_port and $redis_port, with a scratch directory in $work.
# start_pair <chiral flags> <redis flags> starts both (fresh data), waits until
# they answer and sets $chiral_pid and $redis_pid; stop_pair shuts both down;
# cpu_per_request measures one redis-benchmark run against either. Everything is
# cleaned up on exit.
# CHIRAL_SERVER=<path> runs that binary instead of building this tree's (to compare
# two builds in one sitting); CHIRAL_FLAGS="<flags>" adds flags to every chiral-server
# start (e.g. "--threads 1").
work="$(mktemp -d)"
cleanup() {
  redis-cli -p "$chiral_port" shutdown >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
chiral_server="${CHIRAL_SERVER:-target/release/chiral-server}"
[ -n "${CHIRAL_SERVER:-}" ] || cargo build --quiet --release -p chiral-net --bin chiral-server

wait_for() {
  for _ in $(seq 200); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "nothing answers on port $1" >&2
  exit 1
}

start_pair() { # start_pair <chiral flags> <redis flags>
  local chiral_flags="$1" redis_flags="$2"
  rm -rf "$work/chiral" "$work/redis"; mkdir -p "$work/redis"
  # shellcheck disable=SC2086
  RUST_LOG=warn "$chiral_server" --port "$chiral_port" $chiral_flags ${CHIRAL_FLAGS:-} &
  chiral_pid=$!
  # shellcheck disable=SC2086
  redis-server --port "$redis_port" --dir "$work/redis" --save "" $redis_flags --daemonize yes \
    --logfile "$work/redis.log"
  wait_for "$chiral_port"; wait_for "$redis_port"
  redis_pid=$(redis-cli -p "$redis_port" info server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')
}

stop_pair() {
  redis-cli -p "$chiral_port" shutdown >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  wait
  sleep 0.5
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# cpu_per_request <pid> <requests> <redis-benchmark args...>: runs redis-benchmark
# with --csv and prints "requests/s µs-of-CPU-per-request" for the server <pid> (its
# user + system time from /proc over the run, divided by <requests>).
cpu_per_request() {
  local pid="$1" requests="$2" before after rps
  shift 2
  before=$(cpu_ticks "$pid")
  rps=$(redis-benchmark -n "$requests" --csv "$@" | tail -n 1 | cut -d, -f2 | tr -d '"')
  after=$(cpu_ticks "$pid")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" -v rps="$rps" \
    'BEGIN { printf "%10.0f %8.2f", rps, t / hz * 1e6 / n }'
}
