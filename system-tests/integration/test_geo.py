"""Geo commands sent to Swiftlet and to a real redis-server: the same scores (52-bit
geohashes), positions, distances, hashes and search results, byte for byte, in RESP2 and
RESP3 — including the order of unsorted searches, which follows Redis's cell walk."""
import random

import pytest

FIXED = [
    ["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"], ["GEODIST", "Sicily", "Palermo", "Catania"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "km"], ["GEODIST", "Sicily", "Palermo", "Catania", "MI"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "ft"], ["GEODIST", "Sicily", "Palermo", "Catania", "yd"],
    ["GEODIST", "Sicily", "Palermo", "Nope"], ["GEODIST", "nokey", "a", "b"], ["GEODIST", "Sicily", "a", "b", "m", "x"],
    ["GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting"], ["GEOPOS", "nokey", "a"], ["GEOPOS", "Sicily"],
    ["GEOHASH", "Sicily", "Palermo", "Catania", "none"], ["GEOHASH", "nokey", "a"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "COUNT", "1"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"], ["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "abc", "km"], ["GEORADIUS", "Sicily", "15", "37", "200", "parsecs"],
    ["GEORADIUS", "Sicily", "200", "37", "200", "km"], ["GEORADIUS", "Sicily", "15", "86", "200", "km"],
    ["GEORADIUS", "Sicily", "x", "37", "200", "km"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "FOO"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    # Distances stored by STOREDIST print with 17 digits in 7.0 and shortest in 7.4: compare rounded.
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst"], ["ZRANGE", "dst", "0", "-1"],
    ["ZRANGEBYSCORE", "dst", "56.4412", "56.4413"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "dst"], ["EXISTS", "dst"],
    ["GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "dst"], ["GEORADIUS", "nokey", "15", "37", "200", "km"],
    ["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "dst"], ["GEORADIUS_RO", "Sicily", "15", "37", "200", "km"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "WITHDIST"], ["GEORADIUSBYMEMBER", "Sicily", "Nope", "300", "km"],
    ["GEORADIUSBYMEMBER", "nokey", "Nope", "x", "km"], ["GEORADIUSBYMEMBER_RO", "Sicily", "Catania", "100", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD", "WITHDIST"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "DESC", "WITHHASH"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "400", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "a", "400", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37"], ["GEOSEARCH", "Sicily", "BYRADIUS", "10", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "10", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Nope", "BYRADIUS", "10", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "x"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"],
    ["GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "10", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "ANY"],
    ["GEOSEARCHSTORE", "dst2", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"],
    ["ZRANGE", "dst2", "0", "-1"], ["ZCOUNT", "dst2", "190.4424", "190.4425"],
    ["GEOSEARCHSTORE", "dst2", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHDIST"],
    ["GEOSEARCHSTORE", "dst3", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "COUNT", "1"],
    ["ZRANGE", "dst3", "0", "-1", "WITHSCORES"],
    ["GEOADD", "Sicily", "NX", "XX", "1", "1", "a"], ["GEOADD", "Sicily", "1", "1"], ["GEOADD", "Sicily", "181", "1", "a"],
    ["GEOADD", "Sicily", "1", "85.1", "a"], ["GEOADD", "Sicily", "abc", "1", "a"], ["GEOADD", "Sicily", "CH", "13.361389", "38.2", "Palermo"],
    ["GEOADD", "Sicily", "XX", "1", "1", "New"], ["GEOADD", "Sicily", "NX", "1", "1", "Palermo", "2", "2", "New"],
    ["GEOADD", "nokey2", "XX", "1", "1", "a"], ["EXISTS", "nokey2"], ["GEOADD", "Sicily", "-180", "-85.05112878", "corner"],
    ["GEOADD", "Sicily", "180", "85.05112878", "corner2"], ["GEOPOS", "Sicily", "corner", "corner2"],
    ["GEOHASH", "Sicily", "corner", "corner2"], ["SET", "str", "x"], ["GEOADD", "str", "1", "1", "a"], ["GEOPOS", "str", "a"],
    ["GEOSEARCH", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "m"], ["ZADD", "raw", "-5", "neg", "1e20", "big"],
    ["GEOPOS", "raw", "neg"], ["GEOHASH", "raw", "neg"],
]


def random_commands(rng):
    cmds = []
    for key, (clon, clat, spread) in {"g1": (2.35, 48.85, 3.0), "g2": (-70, -60, 40.0), "g3": (179, 0, 2.0)}.items():
        args = []
        for i in range(300):
            lon = max(-180, min(180, clon + rng.uniform(-spread, spread)))
            lat = max(-85, min(85, clat + rng.uniform(-spread, spread)))
            args += ["%.6f" % lon, "%.6f" % lat, "m%d" % i]
        cmds.append(["GEOADD", key] + args)
        for _ in range(60):
            lon = max(-180, min(180, clon + rng.uniform(-spread, spread)))
            lat = max(-85, min(85, clat + rng.uniform(-spread, spread)))
            unit = rng.choice(["m", "km", "mi", "ft"])
            size = {"m": 200000, "km": 200, "mi": 120, "ft": 600000}[unit] * rng.choice([0.01, 0.1, 0.5, 1, 3])
            by = rng.choice([["BYRADIUS", "%.3f" % size, unit], ["BYBOX", "%.3f" % size, "%.3f" % (size * rng.uniform(0.3, 2)), unit]])
            frm = rng.choice([["FROMLONLAT", "%.6f" % lon, "%.6f" % lat], ["FROMMEMBER", "m%d" % rng.randrange(300)]])
            opts = rng.choice([[], ["ASC"], ["DESC"], ["COUNT", "5"], ["COUNT", "3", "ANY"], ["WITHDIST", "WITHCOORD", "WITHHASH"]])
            cmds.append(["GEOSEARCH", key] + frm + by + opts)
            cmds.append(["GEORADIUS", key, "%.6f" % lon, "%.6f" % lat, "%.3f" % size, unit, "WITHDIST"])
        cmds.append(["GEORADIUSBYMEMBER", key, "m7", "500", "km", "WITHCOORD"])
        cmds.append(["GEOHASH", key] + ["m%d" % i for i in range(0, 300, 7)])
        cmds.append(["GEOPOS", key] + ["m%d" % i for i in range(0, 300, 11)])
        cmds.append(["GEODIST", key, "m1", "m2", "km"])
    return cmds


def run(server, commands, resp3):
    c = server.raw()
    c.command("FLUSHALL")
    if resp3:
        c.command("HELLO", "3")
    out = [c.command(*cmd) for cmd in commands]
    c.close()
    return out


@pytest.mark.parametrize("resp3", [False, True])
def test_geo_replies_equal_redis(shared_swiftlet, reference_redis, resp3):
    commands = FIXED + random_commands(random.Random(11))
    expected = run(reference_redis, commands, resp3)
    actual = run(shared_swiftlet, commands, resp3)
    mismatches = [(cmd, e, a) for cmd, e, a in zip(commands, expected, actual) if e != a]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % (m[0][:12], m[1][:300], m[2][:300]) for m in mismatches[:10])
