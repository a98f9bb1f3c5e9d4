#!/usr/bin/env python3
"""Cache hit rate under eviction, side by side: a Zipf-distributed read/write load (GET, and
SET on a miss, as a cache does) against two servers whose maxmemory holds half of the
working set (every key is written once first, so the cache starts full), with the same
policy. Prints each server's hit rate and the difference.

    benchmarks/eviction_hit_rate.py REDIS_PORT SWIFTLET_PORT [--policy allkeys-lru]
        [--keys 100000] [--ops 400000] [--value 1000] [--zipf 1.0]

Both servers must be empty and disposable: the script flushes them and changes maxmemory."""
import argparse
import bisect
import random

import redis


def zipf_cdf(n, s):
    weights = [1.0 / (i ** s) for i in range(1, n + 1)]
    total = sum(weights)
    acc = 0.0
    cdf = []
    for w in weights:
        acc += w / total
        cdf.append(acc)
    return cdf


def run(port, args, cdf, seed):
    r = redis.Redis(host="127.0.0.1", port=port)
    value = b"x" * args.value
    r.config_set("maxmemory", 0)
    r.flushall()
    base = r.info("memory")["used_memory"]
    p = r.pipeline(transaction=False)
    for i in range(args.keys):
        p.set(f"key:{i}", value)
        if i % 1000 == 999:
            p.execute()
    p.execute()
    working_set = r.info("memory")["used_memory"] - base
    r.flushall()
    limit = base + working_set // 2
    r.config_set("maxmemory-policy", args.policy)
    r.config_set("maxmemory", limit)
    rng = random.Random(seed)
    # Warm the cache with every key, in random order: half of them do not fit.
    order = list(range(args.keys))
    rng.shuffle(order)
    p = r.pipeline(transaction=False)
    for n, i in enumerate(order):
        p.set(f"key:{i}", value)
        if n % 1000 == 999:
            p.execute()
    p.execute()
    hits = misses = 0
    batch = 100
    for _ in range(args.ops // batch):
        keys = [f"key:{bisect.bisect_left(cdf, rng.random())}" for _ in range(batch)]
        p = r.pipeline(transaction=False)
        for k in keys:
            p.get(k)
        got = p.execute()
        p = r.pipeline(transaction=False)
        for k, v in zip(keys, got):
            if v is None:
                misses += 1
                p.set(k, value)
            else:
                hits += 1
        p.execute()
    info = r.info()
    r.config_set("maxmemory", 0)
    return hits / (hits + misses), working_set, limit, info["evicted_keys"], info["used_memory"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("redis_port", type=int)
    ap.add_argument("swiftlet_port", type=int)
    ap.add_argument("--policy", default="allkeys-lru")
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--ops", type=int, default=400000)
    ap.add_argument("--value", type=int, default=1000)
    ap.add_argument("--zipf", type=float, default=1.0)
    args = ap.parse_args()
    cdf = zipf_cdf(args.keys, args.zipf)
    results = {}
    for name, port in (("redis", args.redis_port), ("swiftlet", args.swiftlet_port)):
        rate, ws, limit, evicted, used = run(port, args, cdf, seed=42)
        results[name] = rate
        print(f"{name:9s} hit rate {rate * 100:6.2f}%  working set {ws / 1e6:7.1f} MB  maxmemory {limit / 1e6:7.1f} MB"
              f"  evicted {evicted}  used at end {used / 1e6:7.1f} MB")
    print(f"difference (swiftlet - redis): {(results['swiftlet'] - results['redis']) * 100:+.2f} points")


if __name__ == "__main__":
    main()
