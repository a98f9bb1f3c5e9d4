import DataStore
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// `maxmemory` as Redis's evict.c keeps it: before each command, when the allocator's count
/// is over the limit, keys are evicted by the policy until enough is freed, for at most the
/// time `maxmemory-eviction-tenacity` allows; the rest continues between commands. Under
/// `noeviction` (or with nothing left to evict) commands that may grow memory get OOM.
/// Where memory goes besides the dataset (Redis's getMemoryOverheadData): what the server
/// used at start, clients' buffers, the AOF buffer, the key tables.
public struct MemoryOverhead {
    public var startup = 0
    public var clientsNormal = 0
    public var clientsReplicas = 0
    public var aofBuffer = 0
    public var databases: [(index: Int, main: Int, expires: Int)] = []
    public var total = 0
    public var dataset = 0
}

extension ServerState {
    public func memoryOverhead(used: Int) -> MemoryOverhead {
        var o = MemoryOverhead()
        o.startup = startupMemory
        for (_, c) in clients where !c.isReplica {
            o.clientsNormal += 1024 + c.queryBufferLength + c.pendingOutputBytes
        }
        o.clientsReplicas = replicaBufferMemory
        o.aofBuffer = aof?.buffer.capacity ?? 0
        o.total = o.startup + o.clientsNormal + o.clientsReplicas + o.aofBuffer
        for (i, db) in keyspace.databases.enumerated() where db.count > 0 {
            let main = db.table.overheadBytes
            let expires = db.table.expiresOverheadBytes
            o.databases.append((i, main, expires))
            o.total += main + expires
        }
        o.dataset = max(0, used - o.total)
        return o
    }

    public enum EvictionResult {
        case ok
        /// Over the limit, still evicting between commands: commands go on meanwhile.
        case running
        /// Over the limit with nothing that may be evicted.
        case fail
    }

    /// Memory that maxmemory does not count (Redis's freeMemoryGetNotCountedMemory): the
    /// AOF buffer waiting for its write and the replicas' output, so a slow replica never
    /// makes the primary evict keys.
    public var memoryNotCountedForEviction: Int { (aof?.buffer.count ?? 0) + replicaBufferMemory }

    /// The stream waiting for replicas: in their output and held during their full syncs.
    public var replicaBufferMemory: Int {
        guard let primary = replication else { return 0 }
        return primary.replicas.reduce(0) { $0 + $1.session.replicaOutputMemory + $1.heldBytes }
    }

    /// Bytes over `maxmemory` (0 when under it or when there is no limit).
    public var memoryToFree: Int {
        let limit = config.limits.maxmemory
        guard limit > 0 else { return 0 }
        let used = MemoryInfo.usedMemory()
        if used <= Int(limit) { return 0 }
        let counted = used - memoryNotCountedForEviction
        return counted > Int(limit) ? counted - Int(limit) : 0
    }

    /// Over `maxmemory` with nothing more that may be evicted (Redis's pre-command OOM
    /// state, which scripts consult).
    public var outOfMemory: Bool { memoryToFree > 0 && performEvictions() == .fail }

    /// Redis's evictionTimeLimitUs: 50 µs per tenacity step up to 10, then 15% more per
    /// step, none at 100.
    var evictionTimeLimitMicros: Int64 {
        let tenacity = config.limits.evictionTenacity
        if tenacity <= 10 { return 50 * tenacity }
        if tenacity < 100 { return Int64(500.0 * pow(1.15, Double(tenacity - 10))) }
        return Int64.max
    }

    /// performEvictions: frees memory down to `maxmemory` by the policy.
    @discardableResult
    public func performEvictions() -> EvictionResult {
        var toFree = memoryToFree
        guard toFree > 0 else {
            evictionPending = false
            return .ok
        }
        guard let policy = EvictionPolicy(rawValue: config.limits.maxmemoryPolicy), policy != .noEviction else {
            return .fail
        }
        // Never evict while loading or from inside a replay, nor while a pause holds writes
        // (Redis's isSafeToPerformEvictions).
        if loading != nil || expiryHeld { return .ok }
        let start = monotonicMicrosNow()
        let limit = evictionTimeLimitMicros
        var freed = 0
        var evicted = 0
        while freed < toFree {
            guard let (db, slot) = evictionCandidate(policy) else {
                evictionPending = false
                return .fail
            }
            freed += evictKey(db: db, slot: slot)
            evicted += 1
            if evicted % 16 == 0 {
                // Values freed on another thread leave the count later: look again.
                if config.limits.lazyfreeEviction {
                    toFree = memoryToFree
                    freed = 0
                    if toFree == 0 { break }
                }
                if monotonicMicrosNow() - start > limit {
                    evictionPending = true
                    return .running
                }
            }
        }
        evictionPending = false
        return .ok
    }

    /// The key the policy evicts next, as (database, slot).
    func evictionCandidate(_ policy: EvictionPolicy) -> (Int, Int)? {
        let dbCount = keyspace.databases.count
        if policy.isRandom {
            // One database after another, as Redis's next_db.
            for _ in 0..<dbCount {
                evictionNextDB = (evictionNextDB + 1) % dbCount
                let table = keyspace.databases[evictionNextDB].table
                let slot =
                    policy.allKeys
                    ? table.randomSlot(using: &keyspace.rng) : table.randomVolatileSlot(using: &keyspace.rng)
                if let slot { return (evictionNextDB, slot) }
            }
            return nil
        }
        while true {
            var total = 0
            for i in 0..<dbCount {
                let n = policy.allKeys ? keyspace.databases[i].count : keyspace.databases[i].volatileCount
                guard n > 0 else { continue }
                total += n
                populateEvictionPool(db: i, policy: policy)
            }
            if total == 0 { return nil }
            // The best candidate that still exists (and still qualifies).
            while let best = evictionPool.popBest() {
                guard let slot = best.key.withUnsafeBytes({ keyspace.databases[best.db].table.find($0) }) else {
                    continue
                }
                if !policy.allKeys && keyspace.databases[best.db].table[slot].expireAt == KeyEntry.noExpiry {
                    continue
                }
                return (best.db, slot)
            }
        }
    }

    /// evictionPoolPopulate: `maxmemory-samples` random keys of one database, scored by
    /// idle time, inverse LFU counter, or nearness of expiry.
    func populateEvictionPool(db index: Int, policy: EvictionPolicy) {
        let samples = Int(config.limits.maxmemorySamples)
        let limits = config.limits
        let now = keyspace.now
        for _ in 0..<samples {
            let table = keyspace.databases[index].table
            guard
                let slot = policy.allKeys
                    ? table.randomSlot(using: &keyspace.rng) : table.randomVolatileSlot(using: &keyspace.rng)
            else { return }
            let entry = table[slot]
            let score: UInt64
            switch policy {
            case .allKeysLFU, .volatileLFU:
                score = 255 - UInt64(LFU.counter(entry.lru, nowMs: now, decayTime: limits.lfuDecayTime))
            case .volatileTTL:
                score = UInt64.max - UInt64(max(0, entry.expireAt))
            default:
                score = UInt64(estimatedIdleMillis(entry.lru, now: now))
            }
            evictionPool.insert(score: score, key: entry.key, db: index)
        }
    }

    /// estimateObjectIdleTime: milliseconds since the LRU clock stamped the key (24-bit
    /// seconds, wrapping as Redis's).
    public func estimatedIdleMillis(_ lru: UInt32, now: Int64) -> Int64 {
        let clock = UInt32(truncatingIfNeeded: now / 1000) & 0xFF_FFFF
        let stamp = lru & 0xFF_FFFF
        let seconds = clock >= stamp ? clock - stamp : clock + (0xFF_FFFF - stamp)
        return Int64(seconds) * 1000
    }

    /// Deletes an evicted key with everything a deletion tells others: the `evicted` event,
    /// WATCH, client tracking, a DEL (UNLINK when lazy) in the AOF, INFO's evicted_keys.
    /// Returns the bytes the deletion itself freed: what the announcements cost (tracking
    /// invalidations queued for clients) is not counted against it, as in Redis, so they
    /// cannot drive eviction on in a loop.
    @discardableResult
    func evictKey(db index: Int, slot: Int) -> Int {
        let key = keyspace.databases[index].table[slot].key
        if let bg = backgroundSave { bg.preserve(keyspace, db: index, key: key[...]) }
        let before = MemoryInfo.usedMemory()
        let entry = keyspace.databases[index].table.remove(slot: slot)
        if config.limits.lazyfreeEviction {
            releaseInBackground(entry.value)
        } else {
            _ = consume entry
        }
        let freed = before - MemoryInfo.usedMemory()
        evictedKeys += 1
        if propagation.isActive {
            propagation.record(db: index, [Array((config.limits.lazyfreeEviction ? "UNLINK" : "DEL").utf8), key])
        }
        if hasWatchers { touchWatchedKey(db: index, key: key[...]) }
        if trackingClients > 0 { invalidateTrackedKey(db: index, key: key[...], by: nil) }
        if config.limits.keyspaceEvents.contains(.evicted) {
            notifyKeyspaceEvent(.evicted, "evicted", key: key, db: index)
        }
        return freed
    }

    /// Drops the last reference to a value on another thread, so a large value's memory is
    /// released off the command path (Redis's lazy free).
    /// Values with more than 64 elements go (Redis's LAZYFREE_THRESHOLD); smaller ones
    /// cost less to free here than to hand over.
    public func releaseInBackground(_ value: Value) {
        let effort: Int
        switch value {
        case .string, .int, .rawString: return  // one allocation: freeing it is cheap
        case .list(let l): effort = l.count
        case .hash(let h): effort = h.count
        case .set(let s): effort = s.count
        case .zset(let z): effort = z.count
        // Every stream node is an allocation, and so is each group and each entry of its
        // pending list (the first group's size standing for all, as lazyfreeGetFreeEffort).
        case .stream(let s): effort = s.nodes.count + s.groups.count * (1 + (s.groups.first?.nacks.count ?? 0))
        }
        guard effort > 64 else { return }
        lazyfreePending += 1
        let box = LazyFreeBox(value)
        lazyFreeQueue.async {
            box.release()
            lazyfreeDone.add(1)
        }
    }

    /// A whole table (FLUSHALL/FLUSHDB ASYNC): its keys and values are freed on the
    /// lazy-free thread.
    public func releaseInBackground(_ table: KeyTable) {
        lazyfreePending += 1
        let box = LazyFreeTableBox(table)
        lazyFreeQueue.async {
            box.release()
            lazyfreeDone.add(1)
        }
    }

    /// Objects handed to the lazy-free thread and not freed yet (INFO lazyfree_pending_objects).
    public var lazyfreePendingObjects: Int { max(0, lazyfreePending - lazyfreeDone.value) }
    public var lazyfreedObjects: Int { lazyfreeDone.value - lazyfreedAtReset }
}

/// Hands a value to the lazy-free thread; it is referenced nowhere else by then.
final class LazyFreeBox: @unchecked Sendable {
    var value: Value?
    init(_ value: Value) { self.value = value }
    func release() { value = nil }
}

final class LazyFreeTableBox: @unchecked Sendable {
    var table: KeyTable?
    init(_ table: KeyTable) { self.table = table }
    func release() { table = nil }
}

/// A counter the lazy-free thread bumps and the loop reads.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLockLike()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}

/// A pthread mutex (Foundation-free).
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

let lazyfreeDone = LockedCounter()

let lazyFreeQueue = DispatchQueue(label: "swiftlet.lazyfree")
