import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The replica side of Redis's replication (replication.c's syncWithMaster,
/// slaveTryPartialResynchronization and readSyncBulkPayload) as a state machine that knows
/// nothing of sockets: the runtime connects, hands it what the primary sends and carries
/// out the events it returns. The handshake is Redis's: PING; then AUTH (with `masterauth`
/// and `masteruser`), REPLCONF listening-port, REPLCONF ip-address (replica-announce-ip)
/// and REPLCONF capa eof capa psync2 written together and their replies read in order;
/// then PSYNC with the cached primary's ID and offset (a partial resync) or `? -1`.
/// +FULLRESYNC is followed by the snapshot (`$<length>` or `$EOF:<mark>` … mark, newlines
/// before it keeping the link alive); +CONTINUE goes on with the stream at once.
public final class PrimaryLink {
    /// Redis's repl_state, as ROLE names it (connect, connecting, sync, connected).
    public enum State: Equatable {
        case connect
        case connecting
        /// Waiting for the reply to PING, then to the pipelined commands, then to PSYNC.
        case handshake
        case transfer
        case connected
    }

    public enum Event {
        case send([UInt8])
        /// +FULLRESYNC and its whole snapshot: the dataset is replaced by it, and the stream
        /// continues from `offset`.
        case fullSync(replicationID: String, offset: Int64, snapshot: [UInt8])
        /// +CONTINUE: the stream goes on from the cached offset of `previousID`'s history
        /// (under the primary's new ID, when it changed).
        case partialSync(previousID: String, newID: String?)
        /// Commands of the stream (possibly a partial one at the end, kept for the next).
        case stream([UInt8])
        /// The link fails: logged, closed, and retried by the cron.
        case failure(String)
        case log(String)
    }

    public let host: String
    public let port: Int
    public private(set) var state: State = .connect
    /// The primary's replication ID and the stream offset this replica has applied
    /// (master_replid, slave_repl_offset); "?" and -1 before the first sync.
    public var replicationID = "?"
    public var offset: Int64 = -1
    /// The database the stream had selected when the link dropped (or the RDB was saved):
    /// a partial resync continues there.
    public var streamDB = 0
    /// Bytes of the snapshot expected and read so far (INFO master_sync_*), -1 for a
    /// diskless transfer of unknown length.
    public private(set) var transferSize: Int64 = -1
    public private(set) var transferRead: Int64 = 0
    /// When the link last heard from the primary (ms), and when it went down (ms, 0: never up).
    public var lastIO: Int64 = 0
    public var downSince: Int64 = 0

    /// Set before each connection attempt (ServerState.prepareConnection).
    var authentication: (user: String?, password: String)?
    var listeningPort = 0
    var announcedIP: String?

    /// A coordinated failover (FAILOVER): PSYNC carries FAILOVER, asking the replica it
    /// goes to for to take over as primary first.
    public var failoverRequest = false

    /// The replies still awaited after PING: "auth", "port", "ip", "capa", then "psync".
    var awaiting: [String] = []
    var input: [UInt8] = []
    var snapshot: [UInt8] = []
    var eofMark: [UInt8]?
    var fullSyncHeader: (id: String, offset: Int64)?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// The connection is being made.
    public func connecting() {
        state = .connecting
        input = []
    }

    /// The connection is up: the first command of the handshake.
    public func connected(now: Int64) -> [UInt8] {
        state = .handshake
        lastIO = now
        awaiting = ["ping"]
        return Self.command(["PING"])
    }

    /// The connection closed or failed: back to connecting later, keeping the offset for a
    /// partial resync.
    public func lost(now: Int64) {
        if state == .connected { downSince = now }
        state = .connect
        input = []
        snapshot = []
        eofMark = nil
        fullSyncHeader = nil
        transferSize = -1
        transferRead = 0
    }

    /// A command in RESP, encoded as the AOF and the stream encode theirs.
    static func command(_ args: [String]) -> [UInt8] {
        var out: [UInt8] = []
        AOFEncoding.append(args.map { Array($0.utf8) }, into: &out)
        return out
    }

    /// What the primary sent; the events to carry out, in order.
    public func receive(_ bytes: [UInt8], now: Int64) -> [Event] {
        lastIO = now
        if state == .connected { return [.stream(bytes)] }
        input += bytes
        var events: [Event] = []
        while state == .handshake || state == .transfer {
            if state == .transfer {
                guard readSnapshot(&events) else { break }
                continue
            }
            guard let line = takeLine() else { break }
            // Newlines before a reply keep the link alive while the primary prepares.
            if line.isEmpty { continue }
            handshakeReply(line, &events)
            if case .failure = events.last { return events }
        }
        if state == .connected && !input.isEmpty {
            events.append(.stream(input))
            input = []
        }
        return events
    }

    /// Where `needle` first occurs in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        haystack.withUnsafeBytes { hay in needle.withUnsafeBytes { firstOccurrence(of: $0, in: hay, from: from) } }
    }

    func takeLine() -> String? {
        guard let nl = input.firstIndex(of: 10) else { return nil }
        var line = input[..<nl]
        if line.last == 13 { line = line.dropLast() }
        let text = String(decoding: line, as: UTF8.self)
        input.removeFirst(nl + 1)
        return text
    }

    func handshakeReply(_ line: String, _ events: inout [Event]) {
        guard let step = awaiting.first else { return }
        awaiting.removeFirst()
        let isError = line.hasPrefix("-")
        switch step {
        case "ping":
            // An AUTH the primary wants comes next: NOAUTH / NOPERM are fine here.
            if isError && !line.hasPrefix("-NOAUTH") && !line.hasPrefix("-NOPERM")
                && !line.hasPrefix("-ERR operation not permitted")
            {
                events.append(.failure("Error reply to PING from master: '\(line)'"))
                return
            }
            events.append(.log("Master replied to PING, replication can continue..."))
            var out: [UInt8] = []
            if let auth = authentication {
                out += Self.command(auth.user.map { ["AUTH", $0, auth.password] } ?? ["AUTH", auth.password])
                awaiting.append("auth")
            }
            out += Self.command(["REPLCONF", "listening-port", String(listeningPort)])
            awaiting.append("port")
            if let ip = announcedIP {
                out += Self.command(["REPLCONF", "ip-address", ip])
                awaiting.append("ip")
            }
            out += Self.command(["REPLCONF", "capa", "eof", "capa", "psync2"])
            awaiting.append("capa")
            events.append(.send(out))
        case "auth":
            if isError { events.append(.failure("Unable to AUTH to MASTER: \(line)")) }
        case "port":
            if isError {
                events.append(.log("(Non critical) Master does not understand REPLCONF listening-port: \(line)"))
            }
        case "ip":
            if isError { events.append(.log("(Non critical) Master does not understand REPLCONF ip-address: \(line)")) }
        case "capa":
            if isError { events.append(.log("(Non critical) Master does not understand REPLCONF capa: \(line)")) }
            if awaiting.isEmpty {
                // PSYNC with what this replica has (partial resync), else `? -1`.
                var psync =
                    offset >= 0 && replicationID != "?"
                    ? ["PSYNC", replicationID, String(offset + 1)] : ["PSYNC", "?", "-1"]
                if failoverRequest { psync.append("FAILOVER") }
                if psync[1] != "?" {
                    events.append(
                        .log("Trying a partial resynchronization (request \(replicationID):\(offset + 1)).")
                    )
                }
                events.append(.send(Self.command(psync)))
                awaiting.append("psync")
            }
        case "psync":
            psyncReply(line, &events)
        default:
            break
        }
    }

    func psyncReply(_ line: String, _ events: inout [Event]) {
        let words = line.split(separator: " ").map(String.init)
        if words.first == "+FULLRESYNC", words.count >= 3, let start = Int64(words[2]) {
            events.append(.log("Full resync from master: \(words[1]):\(start)"))
            fullSyncHeader = (words[1], start)
            state = .transfer
            snapshot = []
            eofMark = nil
            transferSize = -1
            transferRead = 0
        } else if words.first == "+CONTINUE" {
            let given = words.count >= 2 && words[1].count == 40 ? words[1] : nil
            let newID = given == replicationID ? nil : given
            let previousID = replicationID
            if let newID {
                events.append(.log("Master replication ID changed to \(newID)"))
                replicationID = newID
            }
            events.append(.log("Successful partial resynchronization with master."))
            state = .connected
            events.append(.partialSync(previousID: previousID, newID: newID))
        } else if line.hasPrefix("-NOMASTERLINK") || line.hasPrefix("-LOADING") {
            events.append(.failure("Master is currently unable to PSYNC but should be in the future: \(line)"))
        } else {
            events.append(.failure("Unexpected reply to PSYNC from master: \(line)"))
        }
    }

    /// The snapshot after +FULLRESYNC; true when the state moved on (more input may follow).
    func readSnapshot(_ events: inout [Event]) -> Bool {
        if transferSize < 0 && eofMark == nil {
            guard let line = takeLine() else { return false }
            if line.isEmpty { return true }
            guard line.hasPrefix("$") else {
                events.append(.failure("Bad protocol from MASTER, the first byte is not '$' (we received '\(line)')"))
                state = .connect
                return false
            }
            if line.hasPrefix("$EOF:") && line.utf8.count == 45 {
                eofMark = Array(line.utf8.dropFirst(5))
                events.append(.log("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"))
            } else if let size = Int64(line.dropFirst()), size >= 0 {
                transferSize = size
                events.append(.log("MASTER <-> REPLICA sync: receiving \(size) bytes from master to disk"))
            } else {
                events.append(.failure("Bad protocol from MASTER, invalid bulk length '\(line)'"))
                state = .connect
                return false
            }
            return true
        }
        if let mark = eofMark {
            // The mark ends the snapshot; what follows it (if anything came with it) is stream.
            let searchFrom = max(0, snapshot.count - mark.count)
            snapshot += input
            transferRead += Int64(input.count)
            input = []
            guard let end = Self.find(mark, in: snapshot, from: searchFrom) else { return false }
            input = Array(snapshot[(end + mark.count)...])
            snapshot.removeSubrange(end...)
        } else {
            let wanted = Int(transferSize) - snapshot.count
            let take = min(wanted, input.count)
            snapshot += input.prefix(take)
            input.removeFirst(take)
            transferRead = Int64(snapshot.count)
            guard snapshot.count == Int(transferSize) else { return false }
        }
        guard let header = fullSyncHeader else { return false }
        replicationID = header.id
        offset = header.offset
        state = .connected
        events.append(.fullSync(replicationID: header.id, offset: header.offset, snapshot: snapshot))
        snapshot = []
        eofMark = nil
        fullSyncHeader = nil
        return true
    }

    /// Where the transaction still open at the end of `stream` (whole commands, as a
    /// primary sends them) starts: its MULTI, or 0 when none is found.
    public static func openTransactionStart(in stream: [UInt8]) -> Int {
        var i = 0
        var start = 0
        // A length after `*` or `$` up to its CRLF, or nil past the end or for anything but
        // 1 to 18 digits (the stream is a primary's, but a bad one must not trap the replica).
        func number() -> Int? {
            var n = 0
            var digits = 0
            i += 1
            while i < stream.count, stream[i] != 13 {
                let d = Int(stream[i]) - 48
                guard d >= 0, d <= 9, digits < 18 else { return nil }
                n = n * 10 + d
                digits += 1
                i += 1
            }
            i += 2
            return i <= stream.count && digits > 0 ? n : nil
        }
        while i < stream.count, stream[i] == UInt8(ascii: "*") {
            let commandStart = i
            guard let argc = number() else { break }
            var name: ArraySlice<UInt8> = []
            for argument in 0..<argc {
                guard i < stream.count, stream[i] == UInt8(ascii: "$"), let length = number(),
                    i + length + 2 <= stream.count
                else { return start }
                if argument == 0 { name = stream[i..<i + length] }
                i += length + 2
            }
            if equalsIgnoringCase(name, "multi") { start = commandStart }
        }
        return start
    }

    /// ROLE's name for the state.
    public var roleState: String {
        switch state {
        case .connect: return "connect"
        case .connecting: return "connecting"
        case .handshake: return "handshake"
        case .transfer: return "sync"
        case .connected: return "connected"
        }
    }

    /// REPLCONF ACK <offset>: what the replica tells the primary it has applied.
    public var ack: [UInt8] { ack(fsynced: -1) }

    /// REPLCONF ACK <offset> FACK <fsynced>: with the offset its AOF has fsynced too, while
    /// it has one (-1: none), for the primary's WAITAOF.
    public func ack(fsynced: Int64) -> [UInt8] {
        if fsynced < 0 { return Self.command(["REPLCONF", "ACK", String(offset)]) }
        return Self.command(["REPLCONF", "ACK", String(offset), "FACK", String(fsynced)])
    }
}
