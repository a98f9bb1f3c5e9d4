import CSupport
import DataStore
import RESP
import Server

/// DEBUG DIGEST and DEBUG DIGEST-VALUE, computed as Redis's debug.c does, so a dataset can be
/// compared with another server's: SHA-1 digests xored for unordered elements (set members,
/// hash fields, keys) and chained for ordered ones (list items, a key and its value).
struct Digest {
    var bytes = [UInt8](repeating: 0, count: 20)

    static func sha1<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: 20)
        let input = Array(data)
        input.withUnsafeBytes { buf in
            out.withUnsafeMutableBufferPointer { swiftlet_sha1(buf.baseAddress, buf.count, $0.baseAddress) }
        }
        return out
    }

    /// Redis's xorDigest: digest ^= SHA1(data).
    mutating func xor<C: Collection>(_ data: C) where C.Element == UInt8 {
        let h = Self.sha1(data)
        for i in 0..<20 { bytes[i] ^= h[i] }
    }

    /// Redis's mixDigest: digest = SHA1(digest ^ SHA1(data)).
    mutating func mix<C: Collection>(_ data: C) where C.Element == UInt8 {
        xor(data)
        bytes = Self.sha1(bytes)
    }

    var hex: [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }
    }

    /// xorObjectDigest: the value's type, its elements, and whether it expires.
    mutating func addValue(_ value: Value, expires: Bool) {
        let type: UInt32
        switch value {
        case .string, .rawString, .int: type = 0
        case .list: type = 1
        case .set: type = 2
        case .zset: type = 3
        case .hash: type = 4
        case .stream: type = 6
        }
        withUnsafeBytes(of: type.bigEndian) { mix($0) }
        switch value {
        case .string, .rawString, .int:
            mix(value.stringBytes ?? [])
        case .list(let l):
            for item in l.items { mix(item) }
        case .set(let s):
            for m in s.allMembers { xor(m) }
        case .zset(let z):
            for e in z.entries {
                var element = Digest()
                element.mix(e.member)
                element.mix(Array(formatDouble(e.score).utf8))
                xor(element.bytes)
            }
        case .hash(let h):
            h.forEach { f, v in
                var element = Digest()
                element.mix(f)
                element.mix(v)
                xor(element.bytes)
            }
        case .stream(let s):
            // Redis mixes each entry's `<ms>.<seq>`, then its fields and values.
            s.forEach { e in
                mix(Array("\(e.id.ms).\(e.id.seq)".utf8))
                for item in e.fields { mix(item) }
            }
        }
        if expires { xor(Array("!!expire!!".utf8)) }
    }
}

extension ServerCommands {
    /// DEBUG DIGEST: the whole dataset's digest (zeros when empty).
    static func debugDigest(_ ctx: CommandContext) -> Reply {
        var final = Digest()
        let now = ctx.now
        for (index, db) in ctx.keyspace.databases.enumerated() where db.count > 0 {
            withUnsafeBytes(of: UInt32(index).bigEndian) { final.mix($0) }
            db.table.forEach { e in
                if e.expireAt != KeyEntry.noExpiry && e.expireAt < now { return }
                var digest = Digest()
                digest.mix(e.key)
                digest.addValue(e.value, expires: e.expireAt != KeyEntry.noExpiry)
                final.xor(digest.bytes)
            }
        }
        return .simple(String(decoding: final.hex, as: UTF8.self))
    }

    /// DEBUG DIGEST-VALUE key [key ...]: each value's digest (zeros for a missing key).
    static func debugDigestValue(_ ctx: CommandContext) -> Reply {
        var items: [Reply] = []
        for i in 2..<max(2, ctx.argc) {
            var digest = Digest()
            // Redis reads the table directly: a logically expired key still has its digest.
            if let slot = ctx.db.table.find(ctx.arg(i)) {
                let e = ctx.db.table[slot]
                digest.addValue(e.value, expires: e.expireAt != KeyEntry.noExpiry)
            }
            items.append(.simple(String(decoding: digest.hex, as: UTF8.self)))
        }
        return .array(items)
    }
}
