import DataStore
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH(STORE) and the GEORADIUS family: sorted sets
/// whose scores are `Geohash` 52-bit positions, parsed and answered as geo.c does.
enum GeoCommands {
    /// printf-style fixed-point text (`%.<digits>f`), as Redis formats distances.
    static func fixed(_ value: Double, digits: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let n = withVaList([digits, value]) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
        return String(decoding: buffer[0..<Int(max(0, min(n, 511)))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3, `%.17Lf` trimmed.
    static func humanDouble(_ ctx: CommandContext, _ value: Double) -> Reply {
        let text = formatLongDouble(Float80(value))
        if ctx.session.resp3 { return .raw([UInt8(ascii: ",")] + text + [13, 10]) }
        return .bulk(text)
    }

    /// addReplyDoubleDistance: always a bulk string with four decimals.
    static func distanceReply(_ value: Double) -> Reply { .bulk(fixed(value, digits: 4)) }

    /// extractLongLatOrReply: two floats inside Redis's longitude/latitude limits.
    static func position(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> (Double, Double) {
        let lon = try ctx.double(i)
        let lat = try ctx.double(i + 1)
        if lon < Geohash.longitudeMin || lon > Geohash.longitudeMax || lat < Geohash.latitudeMin
            || lat > Geohash.latitudeMax
        {
            throw .geoInvalidPosition(fixed(lon, digits: 6), fixed(lat, digits: 6))
        }
        return (lon, lat)
    }

    /// extractUnitOrReply: meters per unit.
    static func unit(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Double {
        if ctx.argIs(i, "m") { return 1 }
        if ctx.argIs(i, "km") { return 1000 }
        if ctx.argIs(i, "ft") { return 0.3048 }
        if ctx.argIs(i, "mi") { return 1609.34 }
        throw .geoUnit
    }

    static func readGeo(_ ctx: CommandContext, _ arg: Int = 1) throws(CommandError) -> SortedSetValue? {
        try SortedSetCommands.readZset(ctx, arg)
    }

    /// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
    static func geoadd(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var nx = false
        var xx = false
        var ch = false
        var args = ArgumentReader(ctx, from: 2)
        while true {
            if args.take("nx") {
                nx = true
            } else if args.take("xx") {
                xx = true
            } else if args.take("ch") {
                ch = true
            } else {
                break
            }
        }
        let j = args.position
        if (ctx.argc - j) % 3 != 0 || (xx && nx) { throw .syntax }
        // ZADD's own check, reached when only options were given.
        if ctx.argc == j { throw .syntax }
        var scores: [Double] = []
        for i in stride(from: j, to: ctx.argc, by: 3) {
            let (lon, lat) = try position(ctx, i)
            let hash = Geohash.encodeWGS84(longitude: lon, latitude: lat)!
            scores.append(Double(Geohash.align52(hash)))
        }
        let flags = SortedSetCommands.AddFlags(nx: nx, xx: xx, ch: ch)
        return try scores.withUnsafeBufferPointer { (scores) throws(CommandError) -> Reply in
            try SortedSetCommands.add(ctx, flags, scores: scores, memberArgs: stride(from: j + 2, to: ctx.argc, by: 3))
        }
    }

    /// GEOPOS key [member [member ...]]
    static func geopos(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let z = try readGeo(ctx)
        return .array(
            (2..<ctx.argc).map { i in
                guard let score = z?.scores[ctx.argBytes(i)] else { return .nullArray }
                let (lon, lat) = Geohash.decodeScore(score)
                return .array([humanDouble(ctx, lon), humanDouble(ctx, lat)])
            })
    }

    /// GEODIST key member1 member2 [M | KM | FT | MI]
    static func geodist(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var toMeters = 1.0
        if ctx.argc == 5 {
            toMeters = try unit(ctx, 4)
        } else if ctx.argc > 5 {
            throw .syntax
        }
        guard let z = try readGeo(ctx), let s1 = z.scores[ctx.argBytes(2)], let s2 = z.scores[ctx.argBytes(3)] else {
            return .null
        }
        let a = Geohash.decodeScore(s1)
        let b = Geohash.decodeScore(s2)
        return distanceReply(Geohash.distance(a.longitude, a.latitude, b.longitude, b.latitude) / toMeters)
    }

    /// GEOHASH key [member [member ...]]
    static func geohash(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let z = try readGeo(ctx)
        return .array(
            (2..<ctx.argc).map { i in
                guard let score = z?.scores[ctx.argBytes(i)] else { return .null }
                return .bulk(Geohash.standardString(score: score))
            })
    }

    struct SearchFlags: OptionSet {
        let rawValue: Int
        static let coords = SearchFlags(rawValue: 1)
        static let member = SearchFlags(rawValue: 2)
        static let noStore = SearchFlags(rawValue: 4)
        static let search = SearchFlags(rawValue: 8)
        static let searchStore = SearchFlags(rawValue: 16)
    }

    enum Sort { case none, asc, desc }

    struct Point {
        var member: [UInt8]
        var score: Double
        var longitude: Double
        var latitude: Double
        var distance: Double
    }

    /// georadiusGeneric: the GEORADIUS family and GEOSEARCH(STORE).
    static func search(_ ctx: CommandContext, sourceArg: Int, _ flags: SearchFlags) throws(CommandError) -> Reply {
        let z = try readGeo(ctx, sourceArg)
        var storeArg: Int?
        var storeDist = false
        var center: (Double, Double)?
        var conversion = 1.0
        var kind: Geohash.Shape.Kind?
        let base: Int
        if flags.contains(.coords) {
            base = 6
            center = try position(ctx, 2)
            kind = .circle(radius: try radius(ctx, 4))
            conversion = try unit(ctx, 5)
        } else if flags.contains(.member) {
            base = 5
            if let z {
                guard let score = z.scores[ctx.argBytes(2)] else { throw .geoMemberNotFound }
                center = Geohash.decodeScore(score)
                kind = .circle(radius: try radius(ctx, 3))
                conversion = try unit(ctx, 4)
            }
        } else {
            base = flags.contains(.searchStore) ? 3 : 2
            if flags.contains(.searchStore) { storeArg = 1 }
        }

        var withDist = false
        var withHash = false
        var withCoords = false
        var fromMember = false
        var fromLonLat = false
        var byRadius = false
        var byBox = false
        var sort = Sort.none
        var any = false
        var count: Int64 = 0
        var i = base
        while i < ctx.argc {
            let remaining = ctx.argc - i
            if ctx.argIs(i, "withdist") {
                withDist = true
            } else if ctx.argIs(i, "withhash") {
                withHash = true
            } else if ctx.argIs(i, "withcoord") {
                withCoords = true
            } else if ctx.argIs(i, "any") {
                any = true
            } else if ctx.argIs(i, "asc") {
                sort = .asc
            } else if ctx.argIs(i, "desc") {
                sort = .desc
            } else if ctx.argIs(i, "count") && remaining > 1 {
                count = try ctx.int64(i + 1)
                if count <= 0 { throw .geoCountPositive }
                i += 1
            } else if (ctx.argIs(i, "store") || ctx.argIs(i, "storedist")) && remaining > 1
                && !flags.contains(.noStore) && !flags.contains(.search)
            {
                storeArg = i + 1
                storeDist = ctx.argIs(i, "storedist")
                i += 1
            } else if ctx.argIs(i, "storedist") && flags.contains(.search) && flags.contains(.searchStore) {
                storeDist = true
            } else if ctx.argIs(i, "frommember") && remaining > 1 && flags.contains(.search) && !fromLonLat {
                if let z {
                    guard let score = z.scores[ctx.argBytes(i + 1)] else { throw .geoMemberNotFound }
                    center = Geohash.decodeScore(score)
                }
                fromMember = true
                i += 1
            } else if ctx.argIs(i, "fromlonlat") && remaining > 2 && flags.contains(.search) && !fromMember {
                center = try position(ctx, i + 1)
                fromLonLat = true
                i += 2
            } else if ctx.argIs(i, "byradius") && remaining > 2 && flags.contains(.search) && !byBox {
                kind = .circle(radius: try radius(ctx, i + 1))
                conversion = try unit(ctx, i + 2)
                byRadius = true
                i += 2
            } else if ctx.argIs(i, "bybox") && remaining > 3 && flags.contains(.search) && !byRadius {
                let w = try ctx.double(i + 1, error: .geoWidthNotNumeric)
                let h = try ctx.double(i + 2, error: .geoHeightNotNumeric)
                if h < 0 || w < 0 { throw .geoBoxNegative }
                kind = .box(width: w, height: h)
                conversion = try unit(ctx, i + 3)
                byBox = true
                i += 3
            } else {
                throw .syntax
            }
            i += 1
        }
        if storeArg != nil && (withDist || withHash || withCoords) {
            throw .geoStoreWithOptions(flags.contains(.searchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS")
        }
        if flags.contains(.search) && !(fromMember || fromLonLat) {
            throw .geoFromMissing(ctx.argString(0))
        }
        if flags.contains(.search) && !(byRadius || byBox) {
            throw .geoByMissing(ctx.argString(0))
        }
        if any && count == 0 { throw .geoAnyWithoutCount }

        guard let z, let center, let kind else {
            if let storeArg {
                if ctx.db.delete(ctx.arg(storeArg), now: ctx.now) { ctx.markDirty() }
                return .zero
            }
            return .emptyArray
        }
        if count != 0 && sort == .none && !any { sort = .asc }
        let shape = Geohash.Shape(longitude: center.0, latitude: center.1, conversion: conversion, kind: kind)
        var points = collect(z, shape, limit: any ? Int(clamping: count) : 0)
        if points.isEmpty && storeArg == nil { return .emptyArray }
        let returned = count == 0 || points.count < count ? points.count : Int(count)
        switch sort {
        case .none: break
        case .asc: points.sort { $0.distance < $1.distance }
        case .desc: points.sort { $0.distance > $1.distance }
        }
        points = Array(points.prefix(returned))

        if let storeArg {
            var entries = points.map {
                SortedSetValue.Entry(score: storeDist ? $0.distance / conversion : $0.score, member: $0.member)
            }
            entries.sort { SortedSetValue.precedes($0.score, $0.member, $1.score, $1.member) }
            return SortedSetCommands.storeResult(ctx, entries, keyArg: storeArg, countsEach: true)
        }
        var items: [Reply] = []
        items.reserveCapacity(points.count)
        for p in points {
            if !withDist && !withHash && !withCoords {
                items.append(.bulk(p.member))
                continue
            }
            var item: [Reply] = [.bulk(p.member)]
            if withDist { item.append(distanceReply(p.distance / conversion)) }
            if withHash { item.append(.integer(Int64(p.score))) }
            if withCoords { item.append(.array([humanDouble(ctx, p.longitude), humanDouble(ctx, p.latitude)])) }
            items.append(.array(item))
        }
        return .array(items)
    }

    /// extractDistanceOrReply's radius.
    static func radius(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Double {
        let r = try ctx.double(i, error: .geoRadiusNotNumeric)
        if r < 0 { throw .geoRadiusNegative }
        return r
    }

    /// membersOfAllNeighbors: the points inside the shape, cell by cell in Redis's order.
    static func collect(_ z: SortedSetValue, _ shape: Geohash.Shape, limit: Int) -> [Point] {
        let cells = Geohash.searchCells(shape)
        var points: [Point] = []
        var lastProcessed: Int?
        for (i, cell) in cells.enumerated() {
            if cell.isZero { continue }
            if let last = lastProcessed, cells[last] == cell { continue }
            if !points.isEmpty && limit > 0 && points.count >= limit { break }
            let (lo, hi) = Geohash.scoreRange(cell)
            let start = z.firstIndex(min: lo, exclusive: false)
            let end = z.endIndex(max: hi, exclusive: true)
            if start < end {
                for e in z.entries.slice(start..<end) {
                    let (lon, lat) = Geohash.decodeScore(e.score)
                    if let d = shape.distanceIfInside(lon, lat) {
                        points.append(
                            Point(member: e.member, score: e.score, longitude: lon, latitude: lat, distance: d))
                        if limit > 0 && points.count >= limit { break }
                    }
                }
            }
            lastProcessed = i
        }
        return points
    }

    /// GEORADIUS key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]
    static func georadius(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 1, .coords)
    }
    /// GEORADIUS_RO key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
    static func georadiusRO(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 1, [.coords, .noStore])
    }
    /// GEORADIUSBYMEMBER key member radius <M | KM | FT | MI> [options]
    static func georadiusbymember(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 1, .member)
    }
    /// GEORADIUSBYMEMBER_RO key member radius <M | KM | FT | MI> [options]
    static func georadiusbymemberRO(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 1, [.member, .noStore])
    }
    /// GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius unit | BYBOX width height unit> [options]
    static func geosearch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 1, .search)
    }
    /// GEOSEARCHSTORE destination source <FROMMEMBER … | FROMLONLAT …> <BYRADIUS … | BYBOX …> [options] [STOREDIST]
    static func geosearchstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try search(ctx, sourceArg: 2, [.search, .searchStore])
    }
}

extension CommandTable {
    static let geoRegistrations: [(String, Handler)] = [
        ("geoadd", GeoCommands.geoadd),
        ("geopos", GeoCommands.geopos),
        ("geodist", GeoCommands.geodist),
        ("geohash", GeoCommands.geohash),
        ("georadius", GeoCommands.georadius),
        ("georadius_ro", GeoCommands.georadiusRO),
        ("georadiusbymember", GeoCommands.georadiusbymember),
        ("georadiusbymember_ro", GeoCommands.georadiusbymemberRO),
        ("geosearch", GeoCommands.geosearch),
        ("geosearchstore", GeoCommands.geosearchstore),
    ]
}
