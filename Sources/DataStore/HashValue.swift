import OrderedCollections

/// A hash. Fields keep insertion order, as Redis's listpack encoding does for small hashes
/// (HGETALL, HKEYS and HSCAN answer in that order); OBJECT ENCODING reports `listpack` or
/// `hashtable` by Redis's `hash-max-listpack-*` thresholds.
public final class HashValue {
    public var fields: OrderedDictionary<[UInt8], [UInt8]>
    /// Once a hash has grown past the listpack limits, Redis never converts it back.
    public var isHashtable = false

    public init(_ fields: OrderedDictionary<[UInt8], [UInt8]> = [:]) {
        self.fields = fields
    }

    public var count: Int { fields.count }

    /// Applies Redis's conversion rule after writing `field` = `value`. Conversion is one-way,
    /// so only the entry count and the values just written can trigger it.
    public func noteWrite(_ field: [UInt8], _ value: [UInt8], maxEntries: Int64, maxValue: Int64) {
        if isHashtable { return }
        if fields.count > Int(maxEntries) || field.count > Int(maxValue) || value.count > Int(maxValue) {
            isHashtable = true
        }
    }

    public func copy() -> HashValue {
        let h = HashValue(fields)
        h.isHashtable = isHashtable
        return h
    }

    public var payloadBytes: Int { fields.reduce(0) { $0 + $1.key.count + $1.value.count } }
}
