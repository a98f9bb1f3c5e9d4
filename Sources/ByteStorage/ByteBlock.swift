#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An immutable byte string in one heap allocation: a 4-byte length after the object
/// header, then the bytes. A `[UInt8]` spends 32 bytes of header and rounds up to its
/// capacity; this spends 20, which is what lets a 32-byte string value fit the 64-byte
/// malloc class (an array of the same bytes takes 80). The keyspace stores string values
/// and long keys in these, and a reply can carry one without copying it.
///
/// A block is never changed while anything shares it, which is what makes sharing it
/// across threads (a reply, a lazily freed value) safe: only its one holder may overwrite it
/// (`overwriteIfUnique`).
public struct ByteBlock: @unchecked Sendable {
    @usableFromInline var storage: ByteBlockStorage

    @usableFromInline init(storage: ByteBlockStorage) { self.storage = storage }

    /// A block holding a copy of `bytes`.
    @inlinable
    public static func make(_ bytes: UnsafeRawBufferPointer) -> ByteBlock {
        let n = bytes.count
        let storage = unsafeDowncast(
            ByteBlockStorage.create(minimumCapacity: n) { _ in UInt32(truncatingIfNeeded: n) },
            to: ByteBlockStorage.self)
        if n > 0 {
            storage.withUnsafeMutablePointerToElements {
                $0.update(from: bytes.bindMemory(to: UInt8.self).baseAddress!, count: n)
            }
        }
        return ByteBlock(storage: storage)
    }

    @inlinable
    public static func make<C: Collection>(_ bytes: C) -> ByteBlock where C.Element == UInt8 {
        if let block = bytes.withContiguousStorageIfAvailable({ make(UnsafeRawBufferPointer($0)) }) { return block }
        return Array(bytes).withUnsafeBytes { make($0) }
    }

    /// The number of bytes.
    @inlinable
    public var count: Int { Int(storage.header) }

    /// Replaces the bytes with `bytes` in the same allocation, when nothing else holds this
    /// block (no reply, snapshot or other thread can see the change) and `bytes` fit it
    /// without leaving more than about half of it unused; false, unchanged, otherwise. A SET
    /// over a string value then allocates nothing, as the value it replaces is reused.
    @inlinable
    public mutating func overwriteIfUnique(with bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard isKnownUniquelyReferenced(&storage) else { return false }
        guard reusesCapacity(storage.capacity, for: n) else { return false }
        storage.header = UInt32(truncatingIfNeeded: n)
        if n > 0 {
            storage.withUnsafeMutablePointerToElements {
                $0.update(from: bytes.bindMemory(to: UInt8.self).baseAddress!, count: n)
            }
        }
        return true
    }

    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeMutablePointerToElements {
            try body(UnsafeRawBufferPointer(start: $0, count: Int(storage.header)))
        }
    }

    /// A copy of the bytes as an array.
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// Where a block's length and bytes sit from its object's address, measured on a sample
    /// (the key table compares long keys through raw slot memory, without retaining them).
    public static let rawOffsets: (length: Int, bytes: Int) = {
        let sample = make(UnsafeRawBufferPointer(start: nil, count: 0))
        let object = UnsafeRawPointer(Unmanaged.passUnretained(sample.storage).toOpaque())
        return sample.storage.withUnsafeMutablePointers { header, bytes in
            (UnsafeRawPointer(header) - object, UnsafeRawPointer(bytes) - object)
        }
    }()

    /// Whether the block whose object is at `object` holds exactly `other`; the caller
    /// keeps the block alive.
    @inline(__always)
    public static func equals(objectAt object: UnsafeRawPointer, _ other: UnsafeRawBufferPointer) -> Bool {
        let offsets = rawOffsets
        let n = Int(object.load(fromByteOffset: offsets.length, as: UInt32.self))
        return n == other.count && (n == 0 || memoryEqual(object + offsets.bytes, other.baseAddress!, n))
    }

    /// Whether the bytes equal `other`.
    @inline(__always)
    public func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        withBytes { bytesEqual($0, other) }
    }
}

extension ByteBlock: Hashable {
    public static func == (a: ByteBlock, b: ByteBlock) -> Bool {
        a.storage === b.storage || b.withBytes { a.equals($0) }
    }

    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }
}

/// The allocation behind a `ByteBlock`: the length as the header, the bytes as elements.
public final class ByteBlockStorage: ManagedBuffer<UInt32, UInt8> {}

/// Whether storage of `capacity` bytes may take `count` new bytes in place: they fit, and
/// no more than about half of it is left unused (a small value must not keep a big
/// allocation). The one rule for values overwritten in place (SET, HSET).
@inline(__always)
public func reusesCapacity(_ capacity: Int, for count: Int) -> Bool {
    count <= capacity && capacity <= 2 * count + 64
}
