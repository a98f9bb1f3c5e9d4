import DataStore
import Glibc
import RESP

/// Client-side caching support, as tracking.c: CLIENT TRACKING (default mode remembers the
/// keys a client read; BCAST sends every change under its prefixes), OPTIN/OPTOUT with
/// CLIENT CACHING, NOLOOP, REDIRECT; invalidations as RESP3 `invalidate` pushes, or as
/// `__redis__:invalidate` messages to a RESP2 redirect client.
public struct TrackingState {
    public var on = false
    public var bcast = false
    public var optin = false
    public var optout = false
    public var noloop = false
    /// CLIENT CACHING given for the next command.
    public var caching = false
    public var redirect: Int64 = 0
    public var prefixes: [[UInt8]] = []
    public init() {}
}

/// One BCAST client's prefix (empty: every key), whose changed keys go out together.
struct BroadcastSlot: Hashable {
    var client: Int64
    var prefix: [UInt8]
}

extension ServerState {
    /// The message that invalidates `keys` (nil: every key, after a flush) for `target`.
    func invalidation(_ keys: [[UInt8]]?, for target: ClientSession) -> [UInt8]? {
        let keys: Reply = keys.map { .array($0.map { .bulk($0) }) } ?? .null
        if target.resp3 { return ReplyEncoder.encode(.push([.bulk("invalidate"), keys]), resp3: true) }
        guard target.channels.contains(Array("__redis__:invalidate".utf8)) else { return nil }
        return ReplyEncoder.encode(.array([.bulk("message"), .bulk("__redis__:invalidate"), keys]), resp3: false)
    }

    /// The client invalidations were redirected to is gone: a RESP3 tracking client is told
    /// so (Redis's tracking-redir-broken push).
    func redirectBroken(_ client: ClientSession) {
        guard client.resp3 else { return }
        client.deliverHook?(
            ReplyEncoder.encode(
                .push([.bulk("tracking-redir-broken"), .integer(client.tracking.redirect)]), resp3: true))
    }

    /// Sends an invalidation to a tracking client, or to the client it redirects to.
    /// The writer's own invalidations wait until its reply is out, as Redis's pending keys.
    func sendInvalidation(_ keys: [[UInt8]]?, to client: ClientSession, writer: ClientSession? = nil) {
        var target = client
        if client.tracking.redirect != 0 {
            guard let r = clients[client.tracking.redirect] else {
                redirectBroken(client)
                return
            }
            target = r
        }
        guard let message = invalidation(keys, for: target) else { return }
        if target === writer {
            target.pendingInvalidations.append(contentsOf: message)
        } else {
            target.deliverHook?(message)
        }
    }

    /// A key changed: clients that read it (or watch its prefix) are told, once.
    /// `writer` changed it (NOLOOP skips it); `current` runs the command that did, whose own
    /// invalidations wait for its reply (the writer, unless expiry removed the key).
    public func invalidateTrackedKey(
        db: Int, key: ArraySlice<UInt8>, by writer: ClientSession?, current: ClientSession? = nil
    ) {
        guard trackingClients > 0 else { return }
        let k = Array(key)
        if let readers = _trackingTable.removeValue(forKey: WatchKey(db: db, key: k)) {
            for id in readers {
                guard let c = clients[id], c.tracking.on, !c.tracking.bcast else { continue }
                if c.tracking.noloop && c === writer { continue }
                sendInvalidation([k], to: c, writer: current ?? writer)
            }
        }
        // BCAST clients get the keys of a command (of a whole EXEC) in one message per
        // prefix, after the command, as Redis's trackingBroadcastInvalidationMessages.
        for c in bcastClients where c.tracking.on {
            if c.tracking.noloop && c === writer { continue }
            if c.tracking.prefixes.isEmpty {
                bcastPending[BroadcastSlot(client: c.id, prefix: []), default: []].append(k)
            } else {
                for p in c.tracking.prefixes where k.starts(with: p) {
                    bcastPending[BroadcastSlot(client: c.id, prefix: p), default: []].append(k)
                }
            }
        }
    }

    /// Sends the broadcast invalidations collected since the last call.
    public func flushBroadcastInvalidations() {
        let pending = bcastPending
        bcastPending.removeAll()
        for (slot, keys) in pending {
            guard let c = clients[slot.client], c.tracking.on else { continue }
            sendInvalidation(keys, to: c)
        }
    }

    /// tracking-table-max-keys: past the limit, keys leave the table (their clients are
    /// told to drop them), as Redis's trackingLimitUsedSlots does from the cron and before
    /// each command.
    public func limitTrackingTable() {
        let limit = Int(config.limits.trackingTableMaxKeys)
        guard limit > 0, _trackingTable.count > limit else { return }
        var budget = 100
        while _trackingTable.count > limit && budget > 0 {
            budget -= 1
            guard let key = _trackingTable.keys.randomElement(), let ids = _trackingTable.removeValue(forKey: key)
            else { break }
            for id in ids {
                guard let c = clients[id], c.tracking.on, !c.tracking.bcast else { continue }
                sendInvalidation([key.key], to: c)
            }
        }
    }

    /// INFO's tracking figures: keys in the table, client entries over them, and the
    /// distinct BCAST prefixes.
    public var trackingTableKeys: Int { _trackingTable.count }
    public var trackingTableItems: Int { _trackingTable.values.reduce(0) { $0 + $1.count } }
    public var trackingPrefixCount: Int {
        Set(bcastClients.flatMap { $0.tracking.prefixes.isEmpty ? [[]] : $0.tracking.prefixes }).count
    }

    /// FLUSHDB/FLUSHALL: every tracking client drops its whole cache.
    /// The table is emptied even with no client tracking now: keys remembered for clients
    /// that turned tracking off go too (Redis frees its TrackingTable on every flush).
    public func invalidateAllTracked(current: ClientSession? = nil) {
        if !_trackingTable.isEmpty { _trackingTable.removeAll() }
        guard trackingClients > 0 else { return }
        for c in clients.values where c.tracking.on { sendInvalidation(nil, to: c, writer: current) }
    }

    var bcastClients: [ClientSession] { clients.values.filter { $0.tracking.on && $0.tracking.bcast } }

    public func disableTracking(_ session: ClientSession) {
        if session.tracking.on { trackingClients -= 1 }
        session.tracking = TrackingState()
    }
}

extension CommandContext {
    /// After a read-only command of a tracking client: remembers the keys it read.
    func rememberTrackedKeys(_ command: Command) {
        let t = session.tracking
        defer {
            if keepCachingFlag { keepCachingFlag = false } else { session.tracking.caching = false }
        }
        // Read-only scripts are tracked through the commands they run, not themselves.
        guard t.on, !t.bcast, command.flags.contains(.readonly), !Self.readOnlyScriptCommands.contains(command.name)
        else { return }
        rememberKeys(of: command)
    }

    static let readOnlyScriptCommands: Set<String> = ["eval_ro", "evalsha_ro", "fcall_ro"]

    /// A read inside the script this client runs: its declared keys are tracked.
    public func rememberScriptKeys() {
        guard session.tracking.on, !session.tracking.bcast, let command else { return }
        rememberKeys(of: command)
    }

    private func rememberKeys(of command: Command) {
        let t = session.tracking
        if t.optin && !t.caching { return }
        if t.optout && t.caching { return }
        for i in command.keyPositions(argc: argc, arg: { self.arg($0) }) where i < argc {
            server._trackingTable[ServerState.WatchKey(db: session.db, key: argBytes(i)), default: []].insert(
                session.id)
        }
    }
}
