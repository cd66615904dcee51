"""How long the write after a DEL of a large hash waits: the memory of the deleted
hash is freed when the second left-right copy lets go of it, at the next publish.

Usage: start a server (e.g. `chiral-server --port 7415 --in-memory`), then
`python3 benches/delete-stall.py 7415 [fields]` (needs redis-py).
"""

import sys
import time

import redis


def main() -> None:
    port = int(sys.argv[1])
    fields = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    client = redis.Redis(port=port)
    pipe = client.pipeline(transaction=False)
    for i in range(fields):
        pipe.hset("big", f"field:{i}", "v")
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    assert client.hlen("big") == fields
    start = time.perf_counter()
    client.delete("big")
    deleted = time.perf_counter()
    client.set("after", "1")
    next_set = time.perf_counter()
    client.set("after", "2")
    one_after = time.perf_counter()
    print(
        f"{fields} fields: DEL {1e3 * (deleted - start):.2f} ms, "
        f"next SET {1e3 * (next_set - deleted):.2f} ms, "
        f"the one after {1e3 * (one_after - next_set):.2f} ms"
    )


if __name__ == "__main__":
    main()
