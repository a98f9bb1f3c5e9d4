import OrderedCollections

/// A hash. Fields keep insertion order, as Redis's listpack encoding does for small hashes
/// (HGETALL, HKEYS and HSCAN answer in that order); OBJECT ENCODING reports `listpack` or
/// `hashtable` by Redis's `hash-max-listpack-*` thresholds.
public final class HashValue {
    public var fields: OrderedDictionary<[UInt8], [UInt8]>
    /// Once a hash has grown past the listpack limits, Redis never converts it back.
    public var isHashtable = false
    /// Redis 7.4 field expiry: unix milliseconds per field that has a time to live. Empty
    /// (and allocation-free) for the common hash without any.
    public var fieldExpires: [[UInt8]: Int64] = [:]
    /// The earliest time in `fieldExpires`, so reads check one number.
    public private(set) var nextFieldExpiry = Int64.max

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
        h.fieldExpires = fieldExpires
        h.nextFieldExpiry = nextFieldExpiry
        return h
    }

    public var hasFieldExpiry: Bool { !fieldExpires.isEmpty }

    public func setFieldExpiry(_ field: [UInt8], at time: Int64) {
        fieldExpires[field] = time
        if time < nextFieldExpiry { nextFieldExpiry = time }
    }

    /// Forgets a field's time to live; true if it had one.
    @discardableResult
    public func removeFieldExpiry(_ field: [UInt8]) -> Bool {
        if fieldExpires.isEmpty { return false }
        guard fieldExpires.removeValue(forKey: field) != nil else { return false }
        if fieldExpires.isEmpty { nextFieldExpiry = .max }
        return true
    }

    /// Deletes a field with its time to live; true if it existed.
    @discardableResult
    public func removeField(_ field: [UInt8]) -> Bool {
        guard fields.removeValue(forKey: field) != nil else { return false }
        removeFieldExpiry(field)
        return true
    }

    /// Removes the fields whose time has passed (Redis hides a field once its time is
    /// below the command's time); returns how many went.
    public func removeExpiredFields(now: Int64) -> Int {
        if nextFieldExpiry >= now { return 0 }
        var removed = 0
        var next = Int64.max
        for (field, time) in fieldExpires {
            if time < now {
                fields.removeValue(forKey: field)
                fieldExpires.removeValue(forKey: field)
                removed += 1
            } else if time < next {
                next = time
            }
        }
        nextFieldExpiry = next
        return removed
    }

    public var payloadBytes: Int { fields.reduce(0) { $0 + $1.key.count + $1.value.count } }
}
