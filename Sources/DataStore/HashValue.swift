/// A hash. Small hashes live packed in one buffer, as Redis's listpack (each field and
/// value preceded by its length as a varint, in insertion order): a handful of bytes per
/// field instead of two heap arrays. Past Redis's `hash-max-listpack-*` thresholds a hash
/// moves, one way, to an ordered table — and OBJECT ENCODING says `hashtable`. Either way
/// HGETALL, HKEYS and HSCAN answer in insertion order (for a table, until a deletion).
public final class HashValue {
    // Three words after the object header, so a small hash's object takes the 48-byte
    // malloc class: the packed bytes, the rarely needed parts behind one reference, and
    // the entry count with the encoding flag.

    /// The listpack form: `varint(len) field varint(len) value` per entry.
    var packed: [UInt8] = []
    /// The hashtable form and field expiry, allocated only when a hash converts or a field
    /// gets a time to live.
    var extras: HashExtras?
    var packedEntries: Int32 = 0
    /// Once a hash has grown past the listpack limits, Redis never converts it back.
    public private(set) var isHashtable = false

    var packedCount: Int {
        get { Int(packedEntries) }
        set { packedEntries = Int32(truncatingIfNeeded: newValue) }
    }

    var table: BytesTable<[UInt8]> {
        get { extras?.table ?? BytesTable() }
        _modify {
            if extras == nil { extras = HashExtras() }
            yield &extras!.table
        }
    }

    /// Redis 7.4 field expiry: unix milliseconds per field that has a time to live. Empty
    /// (and allocation-free) for the common hash without any.
    public var fieldExpires: [[UInt8]: Int64] {
        get { extras?.fieldExpires ?? [:] }
        _modify {
            if extras == nil { extras = HashExtras() }
            yield &extras!.fieldExpires
        }
    }

    /// The earliest time in `fieldExpires`, so reads check one number.
    public private(set) var nextFieldExpiry: Int64 {
        get { extras?.nextFieldExpiry ?? .max }
        set {
            if extras == nil {
                if newValue == .max { return }
                extras = HashExtras()
            }
            extras!.nextFieldExpiry = newValue
        }
    }

    public init() {}

    public var count: Int { isHashtable ? table.count : packedCount }

    // MARK: The packed form

    @inline(__always)
    static func readLength(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        var n = 0
        var shift = 0
        while true {
            let b = p.byte(i)
            i += 1
            n |= Int(b & 0x7f) << shift
            if b < 0x80 { return n }
            shift += 7
        }
    }

    @inline(__always)
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        var v = n
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Where an entry lies in `packed`: its start, its value's bytes and its end.
    struct PackedEntry {
        var start: Int
        var valueStart: Int
        var valueEnd: Int
    }

    func packedFind(_ field: UnsafeRawBufferPointer) -> PackedEntry? {
        packed.withUnsafeBytes { p -> PackedEntry? in
            var i = 0
            while i < p.count {
                let start = i
                let fieldLength = Self.readLength(p, &i)
                let fieldStart = i
                i += fieldLength
                let valueLength = Self.readLength(p, &i)
                let valueStart = i
                i += valueLength
                if fieldLength == field.count && bytesEqual(p, at: fieldStart, field, at: 0, count: fieldLength) {
                    return PackedEntry(start: start, valueStart: valueStart, valueEnd: i)
                }
            }
            return nil
        }
    }

    /// Calls `body` with each (field, value) in order, as slices of the packed buffer.
    func packedForEach(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        packedForEachRange { field, value in body(packed[field], packed[value]) }
    }

    /// Every (field, value) of the packed form as ranges of `packed`, in order (the buffer
    /// borrowed once for the walk).
    public func packedForEachRange(_ body: (Range<Int>, Range<Int>) -> Void) {
        packed.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                let fieldLength = Self.readLength(p, &i)
                let field = i..<(i + fieldLength)
                i += fieldLength
                let valueLength = Self.readLength(p, &i)
                let value = i..<(i + valueLength)
                i += valueLength
                body(field, value)
            }
        }
    }

    /// The packed buffer, nil in table form: a reply can share it (`Reply.bulkPart` over
    /// `packedForEachRange`'s ranges) instead of copying each entry.
    public var packedBuffer: [UInt8]? { isHashtable ? nil : packed }

    // MARK: Reading

    /// The value of a field.
    @inline(__always)
    public func value(_ field: ArraySlice<UInt8>) -> [UInt8]? {
        field.withUnsafeBytes { value(raw: $0) }
    }

    @inline(__always)
    public func value(_ field: [UInt8]) -> [UInt8]? {
        field.withUnsafeBytes { value(raw: $0) }
    }

    func value(raw field: UnsafeRawBufferPointer) -> [UInt8]? {
        if isHashtable {
            guard let e = table.index(of: field) else { return nil }
            return table.values[e]
        }
        guard let e = packedFind(field) else { return nil }
        return Array(packed[e.valueStart..<e.valueEnd])
    }

    public func contains(_ field: ArraySlice<UInt8>) -> Bool {
        field.withUnsafeBytes { raw in
            isHashtable ? table.index(of: raw) != nil : packedFind(raw) != nil
        }
    }

    public func contains(_ field: [UInt8]) -> Bool { contains(field[...]) }

    /// The length of a field's value (HSTRLEN), without copying it.
    public func valueLength(_ field: ArraySlice<UInt8>) -> Int? {
        field.withUnsafeBytes { raw in
            if isHashtable { return table.index(of: raw).map { table.values[$0].count } }
            return packedFind(raw).map { $0.valueEnd - $0.valueStart }
        }
    }

    /// Every (field, value) in order.
    public func forEach(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        forEachStored { field, fieldRange, value, valueRange in body(field[fieldRange], value[valueRange]) }
    }

    /// Every (field, value) in order, each as the buffer that holds it and its range there
    /// (a reply can then share the buffer instead of copying the bytes out).
    public func forEachStored(_ body: ([UInt8], Range<Int>, [UInt8], Range<Int>) -> Void) {
        if isHashtable {
            for i in 0..<table.count {
                body(table.keys[i], 0..<table.keys[i].count, table.values[i], 0..<table.values[i].count)
            }
            return
        }
        packedForEachRange { field, value in body(packed, field, packed, value) }
    }

    public var fieldNames: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        forEach { f, _ in out.append(Array(f)) }
        return out
    }

    /// The entry at position `i` in order (O(1) in a table, a walk when packed).
    public func pair(at i: Int) -> (field: [UInt8], value: [UInt8]) {
        if isHashtable { return (table.keys[i], table.values[i]) }
        var k = 0
        var result: (field: [UInt8], value: [UInt8]) = ([], [])
        packedForEach { f, v in
            if k == i { result = (Array(f), Array(v)) }
            k += 1
        }
        return result
    }

    public var pairs: [(field: [UInt8], value: [UInt8])] {
        var out: [(field: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(count)
        forEach { f, v in out.append((Array(f), Array(v))) }
        return out
    }

    // MARK: Writing

    /// Sets a field; returns whether it is new. Redis's conversion rule runs first: a value
    /// or field longer than `maxValue`, or an entry past `maxEntries`, makes it a hashtable.
    @discardableResult
    public func set(_ field: [UInt8], _ value: [UInt8], maxEntries: Int64, maxValue: Int64) -> Bool {
        if !isHashtable && (field.count > Int(maxValue) || value.count > Int(maxValue)) { convertToTable() }
        if isHashtable { return table.updateValue(value, forKey: field) == nil }
        return field.withUnsafeBytes { packedSet($0, field, value, maxEntries: maxEntries) }
    }

    /// Sets a field of the packed form, searched once (`fieldBytes` is `field` borrowed):
    /// a value of the same length (a counter, a flag, a token) is rewritten in place, a
    /// new field appended. Returns whether the field was new.
    func packedSet<F: Collection, V: Collection>(
        _ fieldBytes: UnsafeRawBufferPointer, _ field: F, _ value: V, maxEntries: Int64
    ) -> Bool where F.Element == UInt8, V.Element == UInt8 {
        if let e = packedFind(fieldBytes) {
            if e.valueEnd - e.valueStart == value.count {
                packed.replaceSubrange(e.valueStart..<e.valueEnd, with: value)
            } else {
                var entry: [UInt8] = []
                Self.appendLength(value.count, to: &entry)
                entry += value
                let lengthStart = e.start + lengthOfLength(field.count) + field.count
                packed.replaceSubrange(lengthStart..<e.valueEnd, with: entry)
            }
            return false
        }
        Self.appendLength(field.count, to: &packed)
        packed += field
        Self.appendLength(value.count, to: &packed)
        packed += value
        packedCount += 1
        if packedCount > Int(maxEntries) { convertToTable() }
        return true
    }

    /// Gives back the packed buffer's spare capacity once a write is done (Redis's listpack
    /// is always exactly its size): appends double the capacity, which would otherwise cost
    /// up to half of a small hash's bytes.
    public func trimCapacity() {
        guard !isHashtable else { return }
        let n = packed.count
        // A tight allocation leaves at most 15 bytes to malloc's 16-byte rounding.
        guard packed.capacity - n > 15 else { return }
        packed = Array(unsafeUninitializedCapacity: n) { buffer, count in
            packed.withUnsafeBytes { copyBytes($0, into: UnsafeMutableRawBufferPointer(buffer), at: 0) }
            count = n
        }
    }

    /// Sets a field to bytes given as a slice (HSET's arguments): in table form an existing
    /// field's value keeps its storage when the bytes fit it (`BytesTable.setBytes`), so
    /// overwriting a field allocates nothing. Returns whether the field was new.
    @discardableResult
    public func set(_ field: ArraySlice<UInt8>, bytes value: ArraySlice<UInt8>, maxEntries: Int64, maxValue: Int64)
        -> Bool
    {
        if isHashtable { return table.setBytes(value, forKey: field) }
        guard field.count <= Int(maxValue) && value.count <= Int(maxValue) else {
            return set(Array(field), Array(value), maxEntries: maxEntries, maxValue: maxValue)
        }
        // Packed: the arguments go straight into the buffer, not copied first.
        return field.withUnsafeBytes { packedSet($0, field, value, maxEntries: maxEntries) }
    }

    /// Prefetches the fields (and the values they hold) of a pipelined run of commands, by
    /// `BytesTable.hash`; the table is reached through `extras` in place, not copied.
    /// Bytes of its hash table's index (0 while it is a listpack).
    public var indexBytes: Int { isHashtable ? (extras?.table.indexBytes ?? 0) : 0 }

    public func prefetchFields(hashes: UnsafeMutableBufferPointer<UInt32>) {
        if isHashtable { extras?.table.prefetch(hashes: hashes, values: true) }
    }

    func lengthOfLength(_ n: Int) -> Int {
        var v = n
        var bytes = 1
        while v >= 0x80 {
            v >>= 7
            bytes += 1
        }
        return bytes
    }

    func convertToTable() {
        if isHashtable { return }
        var t = BytesTable<[UInt8]>(minimumCapacity: packedCount)
        packedForEach { f, v in t.updateValue(Array(v), forKey: Array(f)) }
        table = t
        packed = []
        packedCount = 0
        isHashtable = true
    }

    /// Deletes a field with its time to live; true if it existed.
    @discardableResult
    public func removeField(_ field: [UInt8]) -> Bool {
        if isHashtable {
            guard table.removeValue(forKey: field) != nil else { return false }
        } else {
            guard let e = field.withUnsafeBytes({ packedFind($0) }) else { return false }
            packed.removeSubrange(e.start..<e.valueEnd)
            packedCount -= 1
        }
        removeFieldExpiry(field)
        return true
    }

    public func copy() -> HashValue {
        let h = HashValue()
        h.packed = packed
        h.packedCount = packedCount
        if isHashtable { h.table = table }
        h.isHashtable = isHashtable
        if hasFieldExpiry {
            h.fieldExpires = fieldExpires
            h.nextFieldExpiry = nextFieldExpiry
        }
        return h
    }

    // MARK: Field expiry

    public var hasFieldExpiry: Bool {
        guard let extras else { return false }
        return !extras.fieldExpires.isEmpty
    }

    public func setFieldExpiry(_ field: [UInt8], at time: Int64) {
        fieldExpires[field] = time
        if time < nextFieldExpiry { nextFieldExpiry = time }
    }

    /// Forgets a field's time to live; true if it had one.
    @discardableResult
    public func removeFieldExpiry(_ field: [UInt8]) -> Bool {
        if !hasFieldExpiry { return false }
        guard fieldExpires.removeValue(forKey: field) != nil else { return false }
        if fieldExpires.isEmpty { nextFieldExpiry = .max }
        return true
    }

    /// Removes the fields whose time has passed (Redis hides a field once its time is
    /// below the command's time); returns how many went.
    public func removeExpiredFields(now: Int64) -> Int {
        if nextFieldExpiry >= now { return 0 }
        var expired: [[UInt8]] = []
        var next = Int64.max
        for (field, time) in fieldExpires {
            if time < now { expired.append(field) } else if time < next { next = time }
        }
        for field in expired { removeField(field) }
        nextFieldExpiry = next
        return expired.count
    }

    // MARK: Sizes

    public var payloadBytes: Int {
        var n = 0
        forEach { f, v in n += f.count + v.count }
        return n
    }

    /// Bytes of the packed buffer (what a listpack would take, near enough).
    public var packedBytes: Int { packed.count }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What only some hashes need: a converted hash's table, and field expiry.
final class HashExtras {
    var table = BytesTable<[UInt8]>()
    var fieldExpires: [[UInt8]: Int64] = [:]
    var nextFieldExpiry = Int64.max
}
