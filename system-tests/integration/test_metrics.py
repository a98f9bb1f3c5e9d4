"""The Prometheus endpoint (`--metrics-port`), scraped over HTTP: off by default, the
figures agree with INFO, counters only go up (even across CONFIG RESETSTAT), per-command
histograms are cumulative and end at the call count."""
import re
import socket
import urllib.error
import urllib.request

import pytest

from conftest import SWIFTLET, Server, free_port


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)", line)
        assert m, line
        samples[m.group(1)] = float(m.group(2))
    return samples, types


@pytest.fixture
def server():
    metrics_port = free_port()
    s = Server(SWIFTLET, ["--metrics-port", str(metrics_port)])
    s.metrics_port = metrics_port
    yield s
    s.stop()


def test_metrics_agree_with_info(server):
    r = server.client()
    r.set("m:a", "1")
    r.set("m:b", "2", ex=100)
    r.get("m:a")
    r.get("m:missing")
    r.hset("m:h", "f", "v")
    samples, types = scrape(server.metrics_port)
    info = r.info("all")
    assert samples["redis_up"] == 1
    assert samples['redis_db_keys{db="db0"}'] == 3
    assert samples['redis_db_keys_expiring{db="db0"}'] == 1
    assert samples["redis_keyspace_hits_total"] == info["keyspace_hits"] == 1
    assert samples["redis_keyspace_misses_total"] == info["keyspace_misses"] == 1
    assert samples["redis_connected_clients"] >= 1
    assert samples["redis_memory_used_bytes"] > 100_000
    assert samples["redis_rdb_changes_since_last_save"] == 3
    assert samples["redis_aof_enabled"] == 0
    assert samples['redis_commands_total{cmd="set"}'] == 2
    assert samples['redis_commands_total{cmd="get"}'] == 2
    assert samples['redis_commands_total{cmd="hset"}'] == 1
    assert types["redis_commands_total"] == "counter" and types["redis_connected_clients"] == "gauge"
    # The histogram: cumulative buckets, +Inf equal to the count.
    assert types["swiftlet_command_duration_seconds"] == "histogram"
    buckets = sorted(
        (float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")), v)
        for k, v in samples.items() if k.startswith('swiftlet_command_duration_seconds_bucket{cmd="get"'))
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 2
    assert samples['swiftlet_command_duration_seconds_count{cmd="get"}'] == 2
    assert samples['swiftlet_command_duration_seconds_sum{cmd="get"}'] > 0


def test_counters_only_go_up(server):
    r = server.client()
    for i in range(5):
        r.get("m:nothing")
    first, _ = scrape(server.metrics_port)
    r.config_resetstat()
    r.get("m:nothing")
    second, _ = scrape(server.metrics_port)
    assert second["redis_keyspace_misses_total"] >= first["redis_keyspace_misses_total"] + 1
    assert second['redis_commands_total{cmd="get"}'] >= first['redis_commands_total{cmd="get"}'] + 1
    assert second["redis_commands_processed_total"] >= first["redis_commands_processed_total"]


def test_other_paths_and_default_off(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/other", timeout=5)
    assert e.value.code == 404
    assert server.client().config_get("metrics-port") == {"metrics-port": str(server.metrics_port)}
    plain = Server(SWIFTLET, [])
    try:
        assert plain.client().config_get("metrics-port") == {"metrics-port": "0"}
    finally:
        plain.stop()
