#!/usr/bin/env python3
"""Prints a server's whole key space, one line per key in key order: the key, its
type, its value (a list in order; a set's members and a hash's fields sorted) and
whether it expires. Two servers that hold the same data print the same text.

Usage: keyspace.py <port>
"""
import sys

import redis

client = redis.Redis(port=int(sys.argv[1]))
for key in sorted(client.keys("*")):
    kind = client.type(key).decode()
    if kind == "string":
        value = client.get(key)
    elif kind == "list":
        value = client.lrange(key, 0, -1)
    elif kind == "set":
        value = sorted(client.smembers(key))
    elif kind == "hash":
        value = sorted(client.hgetall(key).items())
    else:
        value = f"a {kind}, which this script does not read"
    expires = "expires" if client.pttl(key) > 0 else "does not expire"
    print(f"{key!r} {kind} {value!r} {expires}")
