"""MULTI/EXEC/WATCH with real clients: redis-py's transactional pipelines, optimistic
locking under contention (the exact total survives every race), and the changes WATCH
must see — writes by others, expiry, FLUSHDB, RENAME."""
import threading
import time

import redis


def test_watch_race_keeps_exact_total(swiftlet):
    swiftlet.client().set("counter", 0)
    workers, per_worker = 4, 150

    def increment(pipe):
        value = int(pipe.get("counter"))  # immediate mode: after WATCH, before MULTI
        pipe.multi()
        pipe.set("counter", value + 1)

    def work():
        r = swiftlet.client()
        for _ in range(per_worker):
            r.transaction(increment, "counter")

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert int(swiftlet.client().get("counter")) == workers * per_worker


def test_watch_sees_expiry_flush_and_rename(swiftlet):
    r = swiftlet.client()
    other = swiftlet.client()
    cases = [
        ("exp", lambda: time.sleep(0.25), lambda: r.set("exp", "v", px=100)),
        ("fl", lambda: other.flushdb(), lambda: r.set("fl", "v")),
        ("rn", lambda: other.rename("src", "rn"), lambda: r.set("src", "v")),
        ("del", lambda: other.delete("del"), lambda: r.set("del", "v")),
    ]
    for key, change, setup in cases:
        setup()
        pipe = r.pipeline()
        pipe.watch(key)
        change()
        pipe.multi()
        pipe.set(key, "mine")
        try:
            pipe.execute()
            raise AssertionError(f"EXEC should fail after a change to {key}")
        except redis.WatchError:
            pass
    # An untouched watched key lets EXEC through.
    pipe = r.pipeline()
    pipe.watch("calm")
    pipe.multi()
    pipe.set("calm", "1")
    assert pipe.execute() == [True]


def test_transaction_replies_and_errors(swiftlet):
    r = swiftlet.client()
    pipe = r.pipeline()  # transaction=True: MULTI … EXEC
    pipe.set("a", "x").incr("a").get("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] == b"x"
    raw = swiftlet.raw()
    assert raw.command("MULTI") == b"+OK\r\n"
    assert raw.command("SET", "k") == b"-ERR wrong number of arguments for 'set' command\r\n"
    assert raw.command("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert raw.command("MULTI") == b"+OK\r\n"
    assert raw.command("BLPOP", "nothing", "0") == b"+QUEUED\r\n"
    assert raw.command("EXEC") == b"*1\r\n*-1\r\n"  # blocking commands do not block in MULTI
