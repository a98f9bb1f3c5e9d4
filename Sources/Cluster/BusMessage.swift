import ByteStorage

/// A node's name on the cluster bus: 40 bytes, the hex SHA-1 Redis draws at random; all
/// zeros for "none" (a primary's `slaveof`).
public struct NodeName: Hashable, Sendable, CustomStringConvertible {
    public static let length = 40
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.length else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) { self.init(bytes: Array(text.utf8)) }

    public static let none = NodeName(bytes: [UInt8](repeating: 0, count: length))!

    public var isNone: Bool { bytes.allSatisfy { $0 == 0 } }
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// One message of Redis Cluster's bus (cluster.h's `clusterMsg`): a 2 256-byte header in
/// network byte order, then the body its type calls for. Decoding checks lengths exactly
/// as Redis's clusterProcessPacket does before it trusts a field, so a message Redis would
/// drop is refused here too.
public struct BusMessage: Equatable, Sendable {
    public enum MessageType: UInt16, Sendable {
        case ping = 0, pong, meet, fail, publish, failoverAuthRequest, failoverAuthAck, update, mfstart, module
        case publishShard
    }

    /// The bytes before the body: `sizeof(clusterMsg) - sizeof(union clusterMsgData)`.
    public static let headerLength = 2256
    /// CLUSTER_PROTO_VER.
    public static let version: UInt16 = 1
    public static let signature: [UInt8] = Array("RCmb".utf8)
    /// One gossip section (`clusterMsgDataGossip`).
    public static let gossipLength = 104
    /// mflags[0]: the sender's primary is paused for a manual failover, an AUTH_REQUEST
    /// wants an ack even from a primary that would refuse it, extensions follow the gossip.
    public static let flagPaused: UInt8 = 1
    public static let flagForceAck: UInt8 = 2
    public static let flagExtensionData: UInt8 = 4

    public var type: UInt16
    /// The sender's client port (the TLS one when it serves TLS), its plain port, its bus port.
    public var port: UInt16
    public var plaintextPort: UInt16
    public var busPort: UInt16
    public var currentEpoch: UInt64
    public var configEpoch: UInt64
    /// Its replication offset.
    public var offset: UInt64
    public var sender: NodeName
    /// The slots it serves (its primary's, for a replica).
    public var slots: SlotBitmap
    /// Its primary, `NodeName.none` when it is one.
    public var primary: NodeName
    /// The address it announces; empty to let the receiver use the connection's.
    public var ip: String
    /// Its node flags (`NodeFlags`).
    public var flags: UInt16
    /// The cluster's state as it sees it: 0 ok, 1 fail.
    public var state: UInt8
    /// mflags: three bytes of message flags.
    public var messageFlags: [UInt8]
    public var body: Body

    public enum Body: Equatable, Sendable {
        /// PING, PONG and MEET: what the sender knows of other nodes, then extensions.
        case gossip([Gossip], extensions: [Extension])
        /// FAIL: the node the sender holds as failed.
        case fail(NodeName)
        /// PUBLISH and PUBLISHSHARD.
        case publish(channel: [UInt8], message: [UInt8])
        /// UPDATE: a node's newer slot configuration.
        case update(configEpoch: UInt64, node: NodeName, slots: SlotBitmap)
        /// MODULE: a module's message.
        case module(id: UInt64, type: UInt8, payload: [UInt8])
        /// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK and MFSTART carry the header only.
        case none
        /// A type this version does not know: its body as it came.
        case unknown([UInt8])
    }

    /// One gossip section: what the sender last knew of a node.
    public struct Gossip: Equatable, Sendable {
        public var node: NodeName
        /// When the sender last pinged it and last heard its pong (seconds).
        public var pingSent: UInt32
        public var pongReceived: UInt32
        public var ip: String
        public var port: UInt16
        public var busPort: UInt16
        public var flags: UInt16
        public var plaintextPort: UInt16

        public init(
            node: NodeName, pingSent: UInt32, pongReceived: UInt32, ip: String, port: UInt16, busPort: UInt16,
            flags: UInt16, plaintextPort: UInt16
        ) {
            self.node = node
            self.pingSent = pingSent
            self.pongReceived = pongReceived
            self.ip = ip
            self.port = port
            self.busPort = busPort
            self.flags = flags
            self.plaintextPort = plaintextPort
        }
    }

    /// The extensions Redis 7 and later send after the gossip (`clusterMsgPingExt`).
    public enum Extension: Equatable, Sendable {
        case hostname(String)
        case humanNodename(String)
        /// A node the sender forgot (CLUSTER FORGET), and for how many more seconds.
        case forgottenNode(NodeName, ttl: UInt64)
        case shardID(NodeName)
        /// Any other type (Redis 8's internal secret among them), kept as it came.
        case other(type: UInt16, payload: [UInt8])

        var type: UInt16 {
            switch self {
            case .hostname: return 0
            case .humanNodename: return 1
            case .forgottenNode: return 2
            case .shardID: return 3
            case .other(let type, _): return type
            }
        }
    }

    public init(
        type: MessageType, sender: NodeName, port: UInt16, busPort: UInt16, body: Body, currentEpoch: UInt64 = 0,
        configEpoch: UInt64 = 0, offset: UInt64 = 0, slots: SlotBitmap = SlotBitmap(), primary: NodeName = .none,
        ip: String = "", plaintextPort: UInt16 = 0, flags: UInt16 = 0, state: UInt8 = 0,
        messageFlags: [UInt8] = [0, 0, 0]
    ) {
        self.type = type.rawValue
        self.sender = sender
        self.port = port
        self.busPort = busPort
        self.body = body
        self.currentEpoch = currentEpoch
        self.configEpoch = configEpoch
        self.offset = offset
        self.slots = slots
        self.primary = primary
        self.ip = ip
        self.plaintextPort = plaintextPort
        self.flags = flags
        self.state = state
        self.messageFlags = messageFlags
    }

    public var messageType: MessageType? { MessageType(rawValue: type) }
}

/// Node flags as the bus carries them (cluster.h's CLUSTER_NODE_*).
public enum NodeFlags {
    public static let primary: UInt16 = 1
    public static let replica: UInt16 = 2
    public static let possiblyFailing: UInt16 = 4
    public static let failing: UInt16 = 8
    public static let myself: UInt16 = 16
    public static let handshake: UInt16 = 32
    public static let noAddress: UInt16 = 64
    public static let meet: UInt16 = 128
    public static let migrateTo: UInt16 = 256
    public static let noFailover: UInt16 = 512
}

// MARK: Framing

extension BusMessage {
    /// Why a message is refused, in the words of Redis's log.
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        /// Not "RCmb", or a length below the header: Redis closes the link.
        case badSignatureOrLength
        /// Another protocol version: Redis ignores the message.
        case unsupportedVersion(UInt16)
        /// The length does not match what the header says the body holds.
        case lengthMismatch(type: UInt16, length: Int, expected: Int)
        /// An extension whose length is not a multiple of 8 or runs past the message.
        case badExtension(type: UInt16)

        public var description: String {
            switch self {
            case .badSignatureOrLength: return "Bad message length or signature received on the Cluster bus."
            case .unsupportedVersion(let v): return "Can't handle messages of version \(v)."
            case .lengthMismatch(let type, let length, let expected):
                return
                    "Received invalid \(BusMessage.typeName(type)) packet of length \(length) but expected length \(expected)"
            case .badExtension(let type):
                return "Received a \(BusMessage.typeName(type)) packet with invalid extension data"
            }
        }
    }

    /// How long the message starting `bytes` is, from its first 8 bytes; nil while fewer
    /// have come. Throws for a wrong signature or a length shorter than the header, on
    /// which Redis drops the link.
    public static func frameLength(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Int? {
        guard bytes.count >= 8 else { return nil }
        guard bytes.byte(0) == signature[0], bytes.byte(1) == signature[1], bytes.byte(2) == signature[2],
            bytes.byte(3) == signature[3]
        else { throw .badSignatureOrLength }
        let length = Int(readUInt32(bytes, 4))
        guard length >= headerLength else { throw .badSignatureOrLength }
        return length
    }

    /// Redis's clusterGetMessageTypeString.
    public static func typeName(_ type: UInt16) -> String {
        switch MessageType(rawValue: type) {
        case .ping: return "ping"
        case .pong: return "pong"
        case .meet: return "meet"
        case .fail: return "fail"
        case .publish: return "publish"
        case .publishShard: return "publishshard"
        case .failoverAuthRequest: return "auth-req"
        case .failoverAuthAck: return "auth-ack"
        case .update: return "update"
        case .mfstart: return "mfstart"
        case .module: return "module"
        case nil: return "unknown"
        }
    }
}

// MARK: Decoding

extension BusMessage {
    /// Decodes one whole message (`frameLength` bytes).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> BusMessage {
        guard let total = try frameLength(bytes), total == bytes.count else { throw .badSignatureOrLength }
        let version = readUInt16(bytes, 8)
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let type = readUInt16(bytes, 12)
        let count = Int(readUInt16(bytes, 14))
        let extensionCount = Int(readUInt16(bytes, 2214))
        let messageFlags = [bytes.byte(2253), bytes.byte(2254), bytes.byte(2255)]
        let h = headerLength
        let body: Body
        switch MessageType(rawValue: type) {
        case .ping, .pong, .meet:
            var expected = h + gossipLength * count
            guard expected <= total else { throw .lengthMismatch(type: type, length: total, expected: expected) }
            var gossip: [Gossip] = []
            gossip.reserveCapacity(count)
            for i in 0..<count { gossip.append(readGossip(bytes, h + i * gossipLength)) }
            var extensions: [Extension] = []
            if messageFlags[0] & flagExtensionData != 0 {
                for _ in 0..<extensionCount {
                    guard total - expected >= 8 else { throw .badExtension(type: type) }
                    let length = Int(readUInt32(bytes, expected))
                    guard length >= 8, length % 8 == 0, length <= total - expected else {
                        throw .badExtension(type: type)
                    }
                    extensions.append(
                        readExtension(
                            type: readUInt16(bytes, expected + 4),
                            UnsafeRawBufferPointer(rebasing: bytes[(expected + 8)..<(expected + length)])))
                    expected += length
                }
            }
            guard expected == total else { throw .lengthMismatch(type: type, length: total, expected: expected) }
            body = .gossip(gossip, extensions: extensions)
        case .fail:
            try expect(h + NodeName.length)
            body = .fail(readName(bytes, h))
        case .publish, .publishShard:
            guard total >= h + 8 else { throw .lengthMismatch(type: type, length: total, expected: h + 8) }
            let channelLength = Int(readUInt32(bytes, h))
            let messageLength = Int(readUInt32(bytes, h + 4))
            try expect(h + 8 + channelLength + messageLength)
            body = .publish(
                channel: Array(bytes[(h + 8)..<(h + 8 + channelLength)]),
                message: Array(bytes[(h + 8 + channelLength)..<total]))
        case .failoverAuthRequest, .failoverAuthAck, .mfstart:
            try expect(h)
            body = .none
        case .update:
            try expect(h + 8 + NodeName.length + HashSlot.count / 8)
            body = .update(
                configEpoch: readUInt64(bytes, h), node: readName(bytes, h + 8),
                slots: SlotBitmap(bytes: Array(bytes[(h + 48)..<total]))!)
        case .module:
            guard total >= h + 13 else { throw .lengthMismatch(type: type, length: total, expected: h + 13) }
            let length = Int(readUInt32(bytes, h + 8))
            try expect(h + 13 + length)
            body = .module(id: readUInt64(bytes, h), type: bytes.byte(h + 12), payload: Array(bytes[(h + 13)..<total]))
        case nil:
            // Redis takes a type it does not know as well formed.
            body = .unknown(Array(bytes[h..<total]))
        }
        func expect(_ expected: Int) throws(DecodeError) {
            guard total == expected else { throw .lengthMismatch(type: type, length: total, expected: expected) }
        }
        var message = BusMessage(
            type: .ping, sender: readName(bytes, 40), port: readUInt16(bytes, 10), busPort: readUInt16(bytes, 2248),
            body: body, currentEpoch: readUInt64(bytes, 16), configEpoch: readUInt64(bytes, 24),
            offset: readUInt64(bytes, 32), slots: SlotBitmap(bytes: Array(bytes[80..<2128]))!,
            primary: readName(bytes, 2128), ip: readString(bytes, 2168, 46), plaintextPort: readUInt16(bytes, 2246),
            flags: readUInt16(bytes, 2250), state: bytes.byte(2252), messageFlags: messageFlags)
        message.type = type
        return message
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> BusMessage {
        // withUnsafeBytes rethrows untyped: the result comes out as a Result.
        let result = bytes.withUnsafeBytes { p in Result { () throws(DecodeError) in try decode(p) } }
        return try result.get()
    }

    static func readGossip(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Gossip {
        Gossip(
            node: readName(bytes, at), pingSent: readUInt32(bytes, at + 40), pongReceived: readUInt32(bytes, at + 44),
            ip: readString(bytes, at + 48, 46), port: readUInt16(bytes, at + 94), busPort: readUInt16(bytes, at + 96),
            flags: readUInt16(bytes, at + 98), plaintextPort: readUInt16(bytes, at + 100))
    }

    static func readExtension(type: UInt16, _ payload: UnsafeRawBufferPointer) -> Extension {
        switch type {
        case 0: return .hostname(readString(payload, 0, payload.count))
        case 1: return .humanNodename(readString(payload, 0, payload.count))
        case 2 where payload.count >= 48: return .forgottenNode(readName(payload, 0), ttl: readUInt64(payload, 40))
        case 3 where payload.count >= 40: return .shardID(readName(payload, 0))
        default: return .other(type: type, payload: Array(payload))
        }
    }

    static func readUInt16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b.byte(at)) << 8 | UInt16(b.byte(at + 1))
    }

    static func readUInt32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(readUInt16(b, at)) << 16 | UInt32(readUInt16(b, at + 2))
    }

    static func readUInt64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(readUInt32(b, at)) << 32 | UInt64(readUInt32(b, at + 4))
    }

    static func readName(_ b: UnsafeRawBufferPointer, _ at: Int) -> NodeName {
        NodeName(bytes: Array(b[at..<(at + NodeName.length)]))!
    }

    /// A NUL-padded text field of `width` bytes.
    static func readString(_ b: UnsafeRawBufferPointer, _ at: Int, _ width: Int) -> String {
        let field = b[at..<(at + width)]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}

// MARK: Encoding

extension BusMessage {
    /// The message's bytes, as Redis lays them out.
    public func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.headerLength)
        var count: UInt16 = 0
        var extensionCount: UInt16 = 0
        var flags0 = messageFlags.first ?? 0
        switch body {
        case .gossip(let gossip, let extensions):
            count = UInt16(gossip.count)
            for g in gossip { Self.appendGossip(g, to: &out) }
            extensionCount = UInt16(extensions.count)
            if !extensions.isEmpty { flags0 |= Self.flagExtensionData }
            for e in extensions { Self.appendExtension(e, to: &out) }
        case .fail(let node):
            out += node.bytes
        case .publish(let channel, let message):
            Self.appendUInt32(UInt32(channel.count), to: &out)
            Self.appendUInt32(UInt32(message.count), to: &out)
            out += channel
            out += message
        case .update(let epoch, let node, let slots):
            Self.appendUInt64(epoch, to: &out)
            out += node.bytes
            out += slots.bytes
        case .module(let id, let type, let payload):
            Self.appendUInt64(id, to: &out)
            Self.appendUInt32(UInt32(payload.count), to: &out)
            out.append(type)
            out += payload
        case .none:
            break
        case .unknown(let bytes):
            out += bytes
        }
        Self.put(Self.signature, at: 0, in: &out)
        Self.put(UInt32(out.count), at: 4, in: &out)
        Self.put(Self.version, at: 8, in: &out)
        Self.put(port, at: 10, in: &out)
        Self.put(type, at: 12, in: &out)
        Self.put(count, at: 14, in: &out)
        Self.put(currentEpoch, at: 16, in: &out)
        Self.put(configEpoch, at: 24, in: &out)
        Self.put(offset, at: 32, in: &out)
        Self.put(sender.bytes, at: 40, in: &out)
        Self.put(slots.bytes, at: 80, in: &out)
        Self.put(primary.bytes, at: 2128, in: &out)
        Self.put(Array(ip.utf8.prefix(45)), at: 2168, in: &out)
        Self.put(extensionCount, at: 2214, in: &out)
        Self.put(plaintextPort, at: 2246, in: &out)
        Self.put(busPort, at: 2248, in: &out)
        Self.put(flags, at: 2250, in: &out)
        out[2252] = state
        out[2253] = flags0
        out[2254] = messageFlags.count > 1 ? messageFlags[1] : 0
        out[2255] = messageFlags.count > 2 ? messageFlags[2] : 0
        return out
    }

    static func appendGossip(_ g: Gossip, to out: inout [UInt8]) {
        let start = out.count
        out += [UInt8](repeating: 0, count: gossipLength)
        put(g.node.bytes, at: start, in: &out)
        put(g.pingSent, at: start + 40, in: &out)
        put(g.pongReceived, at: start + 44, in: &out)
        put(Array(g.ip.utf8.prefix(45)), at: start + 48, in: &out)
        put(g.port, at: start + 94, in: &out)
        put(g.busPort, at: start + 96, in: &out)
        put(g.flags, at: start + 98, in: &out)
        put(g.plaintextPort, at: start + 100, in: &out)
    }

    /// An extension: its 8-byte header, its payload, zeros to a multiple of 8 (a text ends
    /// in at least one NUL).
    static func appendExtension(_ e: Extension, to out: inout [UInt8]) {
        var payload: [UInt8]
        switch e {
        case .hostname(let text), .humanNodename(let text): payload = Array(text.utf8) + [0]
        case .forgottenNode(let node, let ttl):
            payload = node.bytes
            appendUInt64(ttl, to: &payload)
        case .shardID(let node): payload = node.bytes
        case .other(_, let bytes): payload = bytes
        }
        payload += [UInt8](repeating: 0, count: (8 - payload.count % 8) % 8)
        appendUInt32(UInt32(8 + payload.count), to: &out)
        appendUInt16(e.type, to: &out)
        appendUInt16(0, to: &out)
        out += payload
    }

    static func appendUInt16(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    static func appendUInt32(_ v: UInt32, to out: inout [UInt8]) {
        appendUInt16(UInt16(truncatingIfNeeded: v >> 16), to: &out)
        appendUInt16(UInt16(truncatingIfNeeded: v), to: &out)
    }

    static func appendUInt64(_ v: UInt64, to out: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: v >> 32), to: &out)
        appendUInt32(UInt32(truncatingIfNeeded: v), to: &out)
    }

    static func put(_ bytes: [UInt8], at: Int, in out: inout [UInt8]) {
        out.replaceSubrange(at..<(at + bytes.count), with: bytes)
    }

    static func put<T: FixedWidthInteger>(_ v: T, at: Int, in out: inout [UInt8]) {
        var big = v.bigEndian
        withUnsafeBytes(of: &big) { put(Array($0), at: at, in: &out) }
    }
}
