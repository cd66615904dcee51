"""A stock Redis client library (redis-py) against a running chiral-server.

Usage: python3 tests/python/redis_py_check.py PORT

Exercises what applications do with redis-py: plain commands, pipelines,
transactions with WATCH (its retrying helper), RESP3, and the errors it maps to its
exception types. Exits non-zero on the first mismatch.
"""

import sys
import threading
import time

import redis
from redis.cache import CacheConfig


def check(label, got, expected):
    if got != expected:
        raise SystemExit(f"{label}: got {got!r}, expected {expected!r}")


def main(port):
    r = redis.Redis(port=port, decode_responses=True)
    check("ping", r.ping(), True)
    r.flushall()
    check("set", r.set("k", "v"), True)
    check("get", r.get("k"), "v")
    check("set nx", r.set("k", "w", nx=True), None)
    check("set ex", r.set("t", "1", ex=100), True)
    ttl = r.ttl("t")
    if not 99 <= ttl <= 100:
        raise SystemExit(f"ttl: {ttl}")
    check("incr", r.incr("n", 5), 5)
    check("incrbyfloat", r.incrbyfloat("f", 1.5), 1.5)
    check("mget", r.mget(["k", "missing", "n"]), ["v", None, "5"])
    check("hset", r.hset("h", mapping={"a": "1", "b": "2"}), 2)
    check("hgetall", r.hgetall("h"), {"a": "1", "b": "2"})
    check("rpush", r.rpush("l", "a", "b", "c"), 3)
    check("lrange", r.lrange("l", 0, -1), ["a", "b", "c"])
    check("sadd", r.sadd("s", "x", "y"), 2)
    check("smembers", r.smembers("s"), {"x", "y"})
    check("scan_iter", sorted(r.scan_iter(match="*", count=2)), sorted(["k", "t", "n", "f", "h", "l", "s"]))
    try:
        r.lpush("k", "x")
        raise SystemExit("lpush on a string must fail")
    except redis.exceptions.ResponseError as error:
        check("wrongtype", str(error), "WRONGTYPE Operation against a key holding the wrong kind of value")
    # Pipelines, transactional or not.
    pipe = r.pipeline(transaction=False)
    for _ in range(100):
        pipe.incr("p")
    check("pipeline", pipe.execute()[-1], 100)
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1").incr("a").get("a")
    check("multi/exec", pipe.execute(), [True, 2, "2"])

    # WATCH through redis-py's retrying transaction helper, from several threads.
    def add_one(pipe):
        value = int(pipe.get("counter") or 0)
        pipe.multi()
        pipe.set("counter", value + 1)

    def worker():
        client = redis.Redis(port=port, decode_responses=True)
        for _ in range(50):
            client.transaction(add_one, "counter")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check("watch retries lose nothing", r.get("counter"), "200")

    # RESP3.
    r3 = redis.Redis(port=port, protocol=3, decode_responses=True)
    check("resp3 hgetall", r3.hgetall("h"), {"a": "1", "b": "2"})
    check("resp3 get missing", r3.get("missing"), None)
    info = r.info()
    check("info version", "redis_version" in info, True)
    check("client setname", r.client_setname("checker"), True)
    check("client getname", r.client_getname(), "checker")

    # Documents, through the generic command interface every client library has.
    r.execute_command("SCHEMA.CREATE", "py", "id", "string16", "n", "int64", "ok", "bool")
    r.execute_command("COLL.CREATE", "pys", "py", "id")
    check("doc.set creates", r.execute_command("DOC.SET", "pys", "a", "n", "-5", "ok", "true"), 1)
    check("doc.get projects", r.execute_command("DOC.GET", "pys", "a", "n"), ["-5"])
    check("resp3 doc.get is a map", r3.execute_command("DOC.GET", "pys", "a"),
          {"id": "a", "n": "-5", "ok": "true"})
    try:
        r.execute_command("DOC.SET", "pys", "a", "n", "x")
        raise SystemExit("a document write of the wrong type was accepted")
    except redis.ResponseError as error:
        check("doc.set type error", str(error), "wrong type for field n: expected int64")
    check("doc.del", r.execute_command("DOC.DEL", "pys", "a"), 1)

    # Client tracking: redis-py's own RESP3 parser receives the invalidate push.
    tracker = redis.Redis(port=port, protocol=3)
    conn = tracker.connection_pool.get_connection()
    pushes = []
    conn._parser.set_invalidation_push_handler(pushes.append)
    conn.send_command("CLIENT", "TRACKING", "ON")
    check("client tracking on", conn.read_response(), b"OK")
    conn.send_command("GET", "tracked")
    check("tracked read", conn.read_response(), None)
    r.set("tracked", "1")
    deadline = time.time() + 10
    while not pushes:
        if time.time() > deadline:
            raise SystemExit("redis-py never received the invalidate push")
        conn.send_command("PING")
        conn.read_response()
    check("invalidate push", pushes, [[b"invalidate", [b"tracked"]]])
    tracker.connection_pool.release(conn)

    # redis-py's built-in client-side cache (CLIENT TRACKING and invalidate pushes):
    # a cached read does not reach the server, and another client's write reaches
    # the cache.
    cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig(), decode_responses=True)
    r.set("csc", "v1")
    check("csc first read", cached.get("csc"), "v1")
    before = r.info("stats")["total_commands_processed"]
    check("csc cached read", cached.get("csc"), "v1")
    after = r.info("stats")["total_commands_processed"]
    check("csc read stayed local", after - before, 1)
    r.set("csc", "v2")
    deadline = time.time() + 10
    while cached.get("csc") != "v2":
        if time.time() > deadline:
            raise SystemExit("redis-py's cache kept a stale value")
        time.sleep(0.01)
    cached.close()

    # Pub/Sub through redis-py's PubSub object.
    p = r.pubsub()
    p.subscribe("py-channel")
    check("subscribe confirmation", p.get_message(timeout=5)["type"], "subscribe")
    check("publish count", r.publish("py-channel", "hi"), 1)
    message = p.get_message(timeout=5)
    check("message", (message["type"], message["channel"], message["data"]),
          ("message", "py-channel", "hi"))
    p.close()
    print("redis-py: all checks passed")


if __name__ == "__main__":
    main(int(sys.argv[1]))
