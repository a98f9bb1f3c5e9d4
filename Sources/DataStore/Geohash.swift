#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Redis's geohash (geohash.c, geohash_helper.c): positions are 52-bit interleaved hashes
/// stored as sorted-set scores, latitude limited to Web Mercator's ±85.05112878°. Every
/// step follows Redis's arithmetic, with the same libm, so scores, decoded positions,
/// distances and search areas come out identical.
public enum Geohash {
    public static let longitudeMin = -180.0
    public static let longitudeMax = 180.0
    public static let latitudeMin = -85.05112878
    public static let latitudeMax = 85.05112878
    public static let stepMax: UInt8 = 26
    static let earthRadius = 6372797.560856
    static let mercatorMax = 20037726.37
    static let degToRad = Double.pi / 180.0

    public struct Bits: Equatable, Sendable {
        public var bits: UInt64
        public var step: UInt8
        public static let zero = Bits(bits: 0, step: 0)
        public var isZero: Bool { bits == 0 && step == 0 }
    }

    public struct Range: Sendable {
        public var min: Double
        public var max: Double
    }

    public struct Area: Sendable {
        public var hash: Bits
        public var longitude: Range
        public var latitude: Range
    }

    static let longRange = Range(min: longitudeMin, max: longitudeMax)
    static let latRange = Range(min: latitudeMin, max: latitudeMax)

    @inline(__always) static func degRad(_ a: Double) -> Double { a * degToRad }
    @inline(__always) static func radDeg(_ a: Double) -> Double { a / degToRad }

    static func interleave(_ xlo: UInt32, _ ylo: UInt32) -> UInt64 {
        let b: [UInt64] = [
            0x5555_5555_5555_5555, 0x3333_3333_3333_3333, 0x0F0F_0F0F_0F0F_0F0F, 0x00FF_00FF_00FF_00FF,
            0x0000_FFFF_0000_FFFF,
        ]
        let s: [UInt64] = [1, 2, 4, 8, 16]
        var x = UInt64(xlo)
        var y = UInt64(ylo)
        for i in stride(from: 4, through: 0, by: -1) {
            x = (x | (x << s[i])) & b[i]
            y = (y | (y << s[i])) & b[i]
        }
        return x | (y << 1)
    }

    static func deinterleave(_ interleaved: UInt64) -> UInt64 {
        let b: [UInt64] = [
            0x5555_5555_5555_5555, 0x3333_3333_3333_3333, 0x0F0F_0F0F_0F0F_0F0F, 0x00FF_00FF_00FF_00FF,
            0x0000_FFFF_0000_FFFF, 0x0000_0000_FFFF_FFFF,
        ]
        let s: [UInt64] = [0, 1, 2, 4, 8, 16]
        var x = interleaved
        var y = interleaved >> 1
        for i in 0..<6 {
            x = (x | (x >> s[i])) & b[i]
            y = (y | (y >> s[i])) & b[i]
        }
        return x | (y << 32)
    }

    /// geohashEncode; nil outside the ranges.
    static func encode(_ longRange: Range, _ latRange: Range, _ longitude: Double, _ latitude: Double, step: UInt8)
        -> Bits?
    {
        if step > 32 || step == 0 { return nil }
        if longitude > longitudeMax || longitude < longitudeMin || latitude > latitudeMax || latitude < latitudeMin {
            return nil
        }
        if latitude < latRange.min || latitude > latRange.max || longitude < longRange.min
            || longitude > longRange.max
        {
            return nil
        }
        var latOffset = (latitude - latRange.min) / (latRange.max - latRange.min)
        var longOffset = (longitude - longRange.min) / (longRange.max - longRange.min)
        latOffset *= Double(UInt64(1) << UInt64(step))
        longOffset *= Double(UInt64(1) << UInt64(step))
        return Bits(bits: interleave(UInt32(latOffset), UInt32(longOffset)), step: step)
    }

    /// The 26-step hash of a position, as GEOADD stores it.
    public static func encodeWGS84(longitude: Double, latitude: Double, step: UInt8 = stepMax) -> Bits? {
        encode(longRange, latRange, longitude, latitude, step: step)
    }

    /// The score GEOADD stores: the hash aligned to 52 bits.
    public static func align52(_ h: Bits) -> UInt64 { h.bits << UInt64(52 - Int(h.step) * 2) }

    static func decode(_ longRange: Range, _ latRange: Range, _ hash: Bits) -> Area {
        let step = UInt64(hash.step)
        let sep = deinterleave(hash.bits)
        let latScale = latRange.max - latRange.min
        let longScale = longRange.max - longRange.min
        let ilato = UInt32(truncatingIfNeeded: sep)
        let ilono = UInt32(truncatingIfNeeded: sep >> 32)
        let div = Double(UInt64(1) << step)
        return Area(
            hash: hash,
            longitude: Range(
                min: longRange.min + (Double(ilono) * 1.0 / div) * longScale,
                max: longRange.min + ((Double(ilono) + 1) * 1.0 / div) * longScale),
            latitude: Range(
                min: latRange.min + (Double(ilato) * 1.0 / div) * latScale,
                max: latRange.min + ((Double(ilato) + 1) * 1.0 / div) * latScale))
    }

    /// The position (longitude, latitude) a score stands for: the middle of its cell.
    public static func decodeScore(_ score: Double) -> (longitude: Double, latitude: Double) {
        let area = decode(longRange, latRange, Bits(bits: scoreBits(score), step: stepMax))
        var x = (area.longitude.min + area.longitude.max) / 2
        x = Swift.min(Swift.max(x, longitudeMin), longitudeMax)
        var y = (area.latitude.min + area.latitude.max) / 2
        y = Swift.min(Swift.max(y, latitudeMin), latitudeMax)
        return (x, y)
    }

    /// C's `(uint64_t)score` as x86-64 computes it, for scores that are not geohashes (a
    /// negative score wraps, one past 2^64 gives 0), so GEOPOS of any member answers as Redis.
    static func scoreBits(_ score: Double) -> UInt64 {
        let twoTo63 = 9_223_372_036_854_775_808.0
        if score.isNaN { return 1 << 63 }
        if score < twoTo63 { return score > -twoTo63 ? UInt64(bitPattern: Int64(score)) : 1 << 63 }
        let high = score - twoTo63
        return high < twoTo63 ? UInt64(Int64(high)) ^ (1 << 63) : 0
    }

    /// The standard 11-character geohash (GEOHASH), re-encoded with latitude ±90.
    public static func standardString(score: Double) -> [UInt8] {
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        let (x, y) = decodeScore(score)
        let h = encode(Range(min: -180, max: 180), Range(min: -90, max: 90), x, y, step: 26)?.bits ?? 0
        return (0..<11).map { i in
            let idx = i == 10 ? 0 : Int((h >> UInt64(52 - (i + 1) * 5)) & 0x1f)
            return alphabet[idx]
        }
    }

    // MARK: Distances

    static func latitudeDistance(_ lat1: Double, _ lat2: Double) -> Double {
        earthRadius * abs(degRad(lat2) - degRad(lat1))
    }

    /// Haversine distance in meters, as geohashGetDistance.
    public static func distance(_ lon1: Double, _ lat1: Double, _ lon2: Double, _ lat2: Double) -> Double {
        let lon1r = degRad(lon1)
        let lon2r = degRad(lon2)
        let v = sin((lon2r - lon1r) / 2)
        if v == 0 { return latitudeDistance(lat1, lat2) }
        let lat1r = degRad(lat1)
        let lat2r = degRad(lat2)
        let u = sin((lat2r - lat1r) / 2)
        let a = u * u + cos(lat1r) * cos(lat2r) * v * v
        return 2.0 * earthRadius * asin(sqrt(a))
    }

    // MARK: Search areas

    /// A search shape: a circle (radius) or a box (width × height), in the unit `conversion`
    /// converts to meters, centred at (longitude, latitude).
    public struct Shape: Sendable {
        public enum Kind: Sendable {
            case circle(radius: Double)
            case box(width: Double, height: Double)
        }
        public var longitude: Double
        public var latitude: Double
        public var conversion: Double
        public var kind: Kind
        public init(longitude: Double, latitude: Double, conversion: Double, kind: Kind) {
            self.longitude = longitude
            self.latitude = latitude
            self.conversion = conversion
            self.kind = kind
        }

        /// The distance to a point when it lies inside the shape.
        public func distanceIfInside(_ lon: Double, _ lat: Double) -> Double? {
            switch kind {
            case .circle(let radius):
                let d = Geohash.distance(longitude, latitude, lon, lat)
                return d > radius * conversion ? nil : d
            case .box(let width, let height):
                if Geohash.latitudeDistance(lat, latitude) > height * conversion / 2 { return nil }
                if Geohash.distance(lon, lat, longitude, lat) > width * conversion / 2 { return nil }
                return Geohash.distance(longitude, latitude, lon, lat)
            }
        }
    }

    static func boundingBox(_ shape: Shape) -> (minLon: Double, minLat: Double, maxLon: Double, maxLat: Double) {
        let height: Double
        let width: Double
        switch shape.kind {
        case .circle(let r):
            height = shape.conversion * r
            width = shape.conversion * r
        case .box(let w, let h):
            height = shape.conversion * (h / 2)
            width = shape.conversion * (w / 2)
        }
        let latDelta = radDeg(height / earthRadius)
        let longDeltaTop = radDeg(width / earthRadius / cos(degRad(shape.latitude + latDelta)))
        let longDeltaBottom = radDeg(width / earthRadius / cos(degRad(shape.latitude - latDelta)))
        let southern = shape.latitude < 0
        return (
            southern ? shape.longitude - longDeltaBottom : shape.longitude - longDeltaTop,
            shape.latitude - latDelta,
            southern ? shape.longitude + longDeltaBottom : shape.longitude + longDeltaTop,
            shape.latitude + latDelta
        )
    }

    static func estimateSteps(_ rangeMeters: Double, _ lat: Double) -> UInt8 {
        if rangeMeters == 0 { return 26 }
        var range = rangeMeters
        var step = 1
        while range < mercatorMax {
            range *= 2
            step += 1
        }
        step -= 2
        if lat > 66 || lat < -66 {
            step -= 1
            if lat > 80 || lat < -80 { step -= 1 }
        }
        return UInt8(Swift.min(Swift.max(step, 1), 26))
    }

    /// geohash_move_x / geohash_move_y: one cell along the axis whose interleaved bits
    /// `axis` selects (longitude 0xaaaa…, latitude 0x5555…), the other axis kept.
    static func move(_ h: inout Bits, _ d: Int, axis: UInt64) {
        if d == 0 { return }
        let other = ~axis
        var a = h.bits & axis
        let shift = UInt64(64 - Int(h.step) * 2)
        let zz = other >> shift
        if d > 0 {
            a = a &+ (zz &+ 1)
        } else {
            a = (a | zz) &- (zz &+ 1)
        }
        a &= axis >> shift
        h.bits = a | (h.bits & other)
    }

    static func moved(_ h: Bits, _ dx: Int, _ dy: Int) -> Bits {
        var n = h
        move(&n, dx, axis: 0xaaaa_aaaa_aaaa_aaaa)
        move(&n, dy, axis: 0x5555_5555_5555_5555)
        return n
    }

    /// The cells to scan for a shape, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW),
    /// with the useless ones zeroed — geohashCalculateAreasByShapeWGS84.
    public static func searchCells(_ shape: Shape) -> [Bits] {
        let bounds = boundingBox(shape)
        var radiusMeters: Double
        switch shape.kind {
        case .circle(let r): radiusMeters = r
        case .box(let w, let h): radiusMeters = sqrt((w / 2) * (w / 2) + (h / 2) * (h / 2))
        }
        radiusMeters *= shape.conversion
        var steps = estimateSteps(radiusMeters, shape.latitude)
        func cells(_ steps: UInt8) -> (Bits, [Bits], Area) {
            let hash = encode(longRange, latRange, shape.longitude, shape.latitude, step: steps) ?? .zero
            let n = [
                moved(hash, 0, 1), moved(hash, 0, -1), moved(hash, 1, 0), moved(hash, -1, 0),
                moved(hash, 1, 1), moved(hash, -1, 1), moved(hash, 1, -1), moved(hash, -1, -1),
            ]
            return (hash, n, decode(longRange, latRange, hash))
        }
        var (hash, n, area) = cells(steps)
        let north = decode(longRange, latRange, n[0])
        let south = decode(longRange, latRange, n[1])
        let east = decode(longRange, latRange, n[2])
        let west = decode(longRange, latRange, n[3])
        let decrease =
            north.latitude.max < bounds.maxLat || south.latitude.min > bounds.minLat
            || east.longitude.max < bounds.maxLon || west.longitude.min > bounds.minLon
        if steps > 1 && decrease {
            steps -= 1
            (hash, n, area) = cells(steps)
        }
        // n: 0 north, 1 south, 2 east, 3 west, 4 NE, 5 NW, 6 SE, 7 SW.
        if steps >= 2 {
            if area.latitude.min < bounds.minLat { for i in [1, 7, 6] { n[i] = .zero } }
            if area.latitude.max > bounds.maxLat { for i in [0, 4, 5] { n[i] = .zero } }
            if area.longitude.min < bounds.minLon { for i in [3, 7, 5] { n[i] = .zero } }
            if area.longitude.max > bounds.maxLon { for i in [2, 6, 4] { n[i] = .zero } }
        }
        return [hash, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]
    }

    /// The score range [min, max) a cell covers.
    public static func scoreRange(_ cell: Bits) -> (min: Double, max: Double) {
        var next = cell
        next.bits += 1
        return (Double(align52(cell)), Double(align52(next)))
    }
}
