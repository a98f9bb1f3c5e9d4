import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

/// Geo, HyperLogLog, SORT and sorted-set algebra through the command table (RESP2 replies),
/// with the values redis.io's examples show.
@Suite struct GeoAndHyperLogLogTests {
    @Test func geoMatchesRedisDocumentation() {
        let r = CommandRunner()
        #expect(
            r.run("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
                == .integer(2))
        // GEOADD stores the 52-bit geohash as the score.
        #expect(r.run("ZSCORE", "Sicily", "Palermo") == .b("3479099956230698"))
        #expect(r.run("GEODIST", "Sicily", "Palermo", "Catania") == .b("166274.1516"))
        #expect(r.run("GEODIST", "Sicily", "Palermo", "Catania", "km") == .b("166.2742"))
        #expect(r.run("GEOHASH", "Sicily", "Palermo", "Catania") == .array([.b("sqc8b49rny0"), .b("sqdtr74hyu0")]))
        #expect(
            r.run("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC")
                == .array([.b("Catania"), .b("Palermo")]))
        #expect(
            r.run("GEOADD", "Sicily", "181", "0", "x")
                == .error("ERR invalid longitude,latitude pair 181.000000,0.000000"))
        #expect(
            r.run("GEODIST", "Sicily", "Palermo", "Catania", "yd")
                == .error("ERR unsupported unit provided. please use M, KM, FT, MI"))
    }

    @Test func geohashRoundTripsInsideACell() {
        for (lon, lat) in [(0.0, 0.0), (-179.9, -85.0), (179.9, 85.0), (13.361389, 38.115556)] {
            let score = Double(Geohash.align52(Geohash.encodeWGS84(longitude: lon, latitude: lat)!))
            let (x, y) = Geohash.decodeScore(score)
            #expect(abs(x - lon) < 0.0001 && abs(y - lat) < 0.0001)
        }
    }

    @Test func hyperLogLogCountsAndPromotes() {
        let r = CommandRunner()
        #expect(r.run("PFADD", "h", "a", "b", "c") == .integer(1))
        #expect(r.run("PFADD", "h", "a") == .integer(0))
        #expect(r.run("PFCOUNT", "h") == .integer(3))
        #expect(r.run("PFDEBUG", "ENCODING", "h") == .simple("sparse"))
        for i in stride(from: 0, to: 20000, by: 500) {
            r.run((["PFADD", "big"] + (i..<(i + 500)).map { "e\($0)" }).map { Array($0.utf8) })
        }
        #expect(r.run("PFDEBUG", "ENCODING", "big") == .simple("dense"))
        guard case .integer(let n) = r.run("PFCOUNT", "big") else { Issue.record("no count"); return }
        #expect(abs(Double(n) - 20000) / 20000 < 0.02)  // Redis's standard error is 0.81%
        #expect(r.run("PFMERGE", "m", "h", "big") == .ok)
        guard case .integer(let merged) = r.run("PFCOUNT", "m") else { Issue.record("no count"); return }
        #expect(merged >= n)
        r.run("SET", "s", "not a hyperloglog")
        #expect(r.run("PFADD", "s", "x") == .error("WRONGTYPE Key is not a valid HyperLogLog string value."))
    }

    @Test func murmurHashIsStableAndSpreads() {
        // hllPatLen maps each element to one of 16384 registers and a run length in 1...51.
        var registers = Set<Int>()
        for i in 0..<1000 {
            let (reg, count) = HyperLogLog.patternLength(Array("element:\(i)".utf8))
            #expect(reg >= 0 && reg < 16384 && count >= 1 && count <= 51)
            registers.insert(reg)
        }
        #expect(registers.count > 950)
        #expect(HyperLogLog.murmurHash64A(Array("abc".utf8)) == HyperLogLog.murmurHash64A(Array("abc".utf8)))
    }

    @Test func sortByPatternsAndStore() {
        let r = CommandRunner()
        r.run("RPUSH", "l", "3", "1", "2")
        r.run("MSET", "w_1", "30", "w_2", "10", "w_3", "20", "n_1", "one", "n_2", "two", "n_3", "three")
        #expect(r.run("SORT", "l") == .array([.b("1"), .b("2"), .b("3")]))
        #expect(r.run("SORT", "l", "BY", "w_*", "GET", "n_*") == .array([.b("two"), .b("three"), .b("one")]))
        #expect(r.run("SORT", "l", "DESC", "LIMIT", "0", "2", "STORE", "out") == .integer(2))
        #expect(r.run("LRANGE", "out", "0", "-1") == .array([.b("3"), .b("2")]))
        r.run("RPUSH", "bad", "x")
        #expect(r.run("SORT", "bad") == .error("ERR One or more scores can't be converted into double"))
        #expect(r.run("SORT_RO", "l", "STORE", "x") == .error("ERR syntax error"))
    }

    @Test func sortedSetAlgebra() {
        let r = CommandRunner()
        r.run("ZADD", "a", "1", "x", "2", "y")
        r.run("ZADD", "b", "10", "y", "20", "z")
        #expect(
            r.run("ZUNION", "2", "a", "b", "WITHSCORES")
                == .array([.b("x"), .b("1"), .b("y"), .b("12"), .b("z"), .b("20")]))
        #expect(r.run("ZINTERSTORE", "out", "2", "a", "b", "AGGREGATE", "MAX") == .integer(1))
        #expect(r.run("ZSCORE", "out", "y") == .b("10"))
        #expect(r.run("ZDIFF", "2", "a", "b") == .array([.b("x")]))
        #expect(r.run("ZINTERCARD", "2", "a", "b", "LIMIT", "1") == .integer(1))
        #expect(r.run("ZUNION", "0", "a") == .error("ERR at least 1 input key is needed for 'zunion' command"))
        #expect(
            r.run("ZMPOP", "2", "none", "a", "MAX", "COUNT", "5")
                == .array([.b("a"), .array([.array([.b("y"), .b("2")]), .array([.b("x"), .b("1")])])]))
        #expect(r.run("EXISTS", "a") == .integer(0))
    }
}
