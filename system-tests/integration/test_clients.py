"""The seed's usage through real clients: redis-py (RESP2 and RESP3), redis-cli, node-redis."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import redis


@pytest.mark.parametrize("protocol", [2, 3])
def test_seed_usage_with_redis_py(swiftlet, protocol):
    r = redis.Redis(host="127.0.0.1", port=swiftlet.port, protocol=protocol, decode_responses=True)
    state = {"step": 3, "history": ["hi", "hello"]}
    assert r.set("session:user123", json.dumps(state), ex=86400) is True
    assert json.loads(r.get("session:user123")) == state
    assert 86390 <= r.ttl("session:user123") <= 86400
    # Rate limiting: INCR then EXPIRE on the first hit.
    for i in range(5):
        n = r.incr("rate:user123:/chat")
        if n == 1:
            r.expire("rate:user123:/chat", 60)
    assert r.get("rate:user123:/chat") == "5"
    assert r.ttl("rate:user123:/chat") > 0
    r.set("circuit:llm", "open", ex=300)
    r.set("cache:abc", "response", ex=3600)
    r.set("vertical:u1:v1", "progress", ex=7 * 86400)
    assert sorted(r.keys("session:*")) == ["session:user123"]
    info = r.info("memory")
    assert info["used_memory"] > 0 and "maxmemory_policy" in info
    server = r.info("server")
    assert server["redis_version"] == "7.4.0"
    assert r.info()["loading"] == 0
    assert r.info("keyspace")["db0"]["keys"] == 5
    assert r.dbsize() == 5
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"p{i}", i)
    pipe.execute()
    assert r.mget([f"p{i}" for i in range(3)]) == ["0", "1", "2"]
    keys = set()
    for k in r.scan_iter(match="p*", count=7):
        keys.add(k)
    assert len(keys) == 100
    r.close()


def test_redis_cli_admin_usage(start_swiftlet):
    s = start_swiftlet("--requirepass", "pw")
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(s.port), "-a", "pw", "--no-auth-warning"]

    def run(*args):
        out = subprocess.run(cli + list(args), capture_output=True, timeout=20).stdout
        return out.decode()

    assert run("PING") == "PONG\n"
    assert run("SET", "session:a", '{"x":1}', "EX", "86400") == "OK\n"
    assert run("KEYS", "session:*") == "session:a\n"
    assert run("GET", "session:a") == '{"x":1}\n'
    mem = run("INFO", "memory")
    assert mem.startswith("# Memory\r\nused_memory:")  # the raw INFO text, CRLF and all
    assert re.search(r"used_memory_human:[\d.]+[BKMG]", mem)
    assert run("GET", "nokey") == "\n"
    tty = subprocess.run(cli + ["--no-raw", "GET", "nokey"], capture_output=True, text=True, timeout=20).stdout
    assert tty == "(nil)\n"
    assert subprocess.run(cli + ["--no-raw", "INCR", "n"], capture_output=True, text=True).stdout == "(integer) 1\n"
    err = subprocess.run(["redis-cli", "-p", str(s.port), "GET", "x"], capture_output=True, text=True).stdout
    assert err.strip() == "NOAUTH Authentication required."


NODE_SCRIPT = r"""
const { createClient } = require('redis');
(async () => {
  const client = createClient({ url: process.argv[2] });
  client.on('error', (e) => { console.error(e); process.exit(2); });
  await client.connect();
  await client.set('session:node', JSON.stringify({a: 1}), { EX: 86400 });
  const v = await client.get('session:node');
  const ttl = await client.ttl('session:node');
  const n = await client.incr('counter');
  const keys = await client.keys('session:*');
  const info = await client.info('memory');
  console.log(JSON.stringify({ v, ttl, n, keys, hasMem: info.includes('used_memory:') }));
  await client.quit();
})();
"""


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_node_redis(start_swiftlet, tmp_path):
    s = start_swiftlet("--requirepass", "pw")
    script = tmp_path / "client.js"
    script.write_text(NODE_SCRIPT)
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
    p = subprocess.run(["node", str(script), f"redis://:pw@127.0.0.1:{s.port}"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["v"] == '{"a":1}' and 86390 <= out["ttl"] <= 86400 and out["n"] == 1
    assert out["keys"] == ["session:node"] and out["hasMem"]


NODE_PUBSUB_SCRIPT = r"""
const { createClient } = require('redis');
(async () => {
  const client = createClient({ url: process.argv[2] });
  const sub = client.duplicate();
  client.on('error', (e) => { console.error(e); process.exit(2); });
  sub.on('error', (e) => { console.error(e); process.exit(2); });
  await client.connect();
  await sub.connect();
  const got = [];
  await sub.subscribe('events', (message, channel) => got.push([channel, message]));
  await sub.pSubscribe('user:*', (message, channel) => got.push([channel, message]));
  const receivers = await client.publish('events', 'order-created');
  await client.publish('user:42', 'login');
  const tx = await client.multi().set('a', '1').incr('a').get('a').exec();
  await new Promise((r) => setTimeout(r, 200));
  console.log(JSON.stringify({ receivers, got, tx }));
  await sub.quit();
  await client.quit();
})();
"""


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_node_redis_pubsub_and_multi(start_swiftlet, tmp_path):
    s = start_swiftlet()
    script = tmp_path / "pubsub.js"
    script.write_text(NODE_PUBSUB_SCRIPT)
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
    p = subprocess.run(["node", str(script), f"redis://127.0.0.1:{s.port}"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["receivers"] == 1
    assert out["got"] == [["events", "order-created"], ["user:42", "login"]]
    assert out["tx"] == ["OK", 2, "2"]


def test_redis_cli_monitor_output(swiftlet):
    proc = subprocess.Popen(["redis-cli", "-p", str(swiftlet.port), "MONITOR"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        r = swiftlet.client()
        r.set("mon key", 'va"lue\n')
        time.sleep(0.5)
    finally:
        proc.terminate()
    lines = proc.communicate(timeout=5)[0].splitlines()
    assert lines[0] == "OK"
    sets = [l for l in lines if '"set"' in l.lower()]
    assert sets, lines
    assert re.match(r'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "(SET|set)" "mon key" "va\\"lue\\n"$', sets[0]), sets[0]
