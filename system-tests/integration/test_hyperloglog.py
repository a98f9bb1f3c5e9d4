"""HyperLogLog values must be Redis's bytes: the same PFADDs give the same string on
Swiftlet and on a real redis-server (sparse, the sparse → dense promotion, dense), the
same PFCOUNT, and a value made by one server is read and extended by the other."""
import random

import pytest


def pair(shared_swiftlet, reference_redis):
    a, b = reference_redis.raw(), shared_swiftlet.raw()
    for c in (a, b):
        c.command("FLUSHALL")
    return a, b


@pytest.mark.parametrize("seed,total", [(1, 300), (2, 3000), (3, 40000)])
def test_pfadd_bytes_equal_redis(shared_swiftlet, reference_redis, seed, total):
    rng = random.Random(seed)
    redis, swiftlet = pair(shared_swiftlet, reference_redis)
    added = 0
    while added < total:
        batch = [("e%d" % rng.randrange(total * 2)).encode() for _ in range(rng.randrange(1, 60))]
        added += len(batch)
        assert swiftlet.command("PFADD", "h", *batch) == redis.command("PFADD", "h", *batch)
        if rng.random() < 0.2:
            assert swiftlet.command("PFCOUNT", "h") == redis.command("PFCOUNT", "h")
        assert swiftlet.command("GET", "h") == redis.command("GET", "h")
    assert swiftlet.command("PFCOUNT", "h") == redis.command("PFCOUNT", "h")
    assert swiftlet.command("GET", "h") == redis.command("GET", "h")


def test_pfmerge_and_multikey_count_equal_redis(shared_swiftlet, reference_redis):
    redis, swiftlet = pair(shared_swiftlet, reference_redis)
    rng = random.Random(7)
    sizes = {"small": 50, "mid": 900, "big": 20000}
    for key, n in sizes.items():
        for i in range(0, n, 500):
            elems = [("%s-%d" % (key, rng.randrange(10 ** 9))).encode() for _ in range(min(500, n - i))]
            for c in (redis, swiftlet):
                c.command("PFADD", key, *elems)
    cmds = [
        ["PFCOUNT", "small", "mid"], ["PFCOUNT", "small", "nokey"], ["PFCOUNT", "small", "mid", "big"],
        ["PFMERGE", "m1", "small", "mid"], ["GET", "m1"], ["PFCOUNT", "m1"], ["PFMERGE", "m2", "small", "big"],
        ["GET", "m2"], ["PFCOUNT", "m2"], ["PFMERGE", "small", "mid"], ["GET", "small"], ["PFMERGE", "empty"],
        ["GET", "empty"], ["PFMERGE", "empty2", "nokey"], ["PFCOUNT", "empty2"], ["PFADD", "new"], ["GET", "new"],
        ["PFADD", "new"], ["PFCOUNT", "nokey"], ["SET", "str", "hello world and more"], ["PFADD", "str", "a"],
        ["PFCOUNT", "str"], ["PFMERGE", "m1", "str"], ["SET", "int", "12345"], ["PFCOUNT", "int"],
        ["LPUSH", "list", "a"], ["PFADD", "list", "a"], ["PFCOUNT", "list", "small"], ["PFMERGE", "list", "small"],
        ["PFDEBUG", "ENCODING", "mid"], ["PFDEBUG", "ENCODING", "big"], ["PFDEBUG", "DECODE", "new"],
        ["PFDEBUG", "TODENSE", "new"], ["GET", "new"], ["PFDEBUG", "ENCODING", "nokey"], ["PFDEBUG", "FOO", "new"],
        ["OBJECT", "ENCODING", "small"], ["TYPE", "small"],
    ]
    for cmd in cmds:
        assert swiftlet.command(*cmd) == redis.command(*cmd), cmd


def test_values_cross_between_servers(shared_swiftlet, reference_redis):
    redis, swiftlet = pair(shared_swiftlet, reference_redis)
    for i, n in enumerate([10, 2000, 30000]):
        key = "x%d" % i
        elems = [b"v%d" % j for j in range(n)]
        for k in range(0, n, 1000):
            redis.command("PFADD", key, *elems[k:k + 1000])
        value = redis.command("GET", key)
        raw = value.split(b"\r\n", 1)[1][:-2]
        swiftlet.command("SET", key, raw)
        assert swiftlet.command("PFCOUNT", key) == redis.command("PFCOUNT", key)
        more = [b"w%d" % j for j in range(500)]
        assert swiftlet.command("PFADD", key, *more) == redis.command("PFADD", key, *more)
        assert swiftlet.command("GET", key) == redis.command("GET", key)
