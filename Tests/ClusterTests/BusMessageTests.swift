import Testing

@testable import Cluster

@Suite struct HashSlotTests {
    /// Slots given by redis-server 7.0.15's CLUSTER KEYSLOT (and the check value of
    /// CRC16/XMODEM: "123456789" is 0x31C3).
    @Test func slotsMatchRedis() {
        #expect(Array("123456789".utf8).withUnsafeBytes { HashSlot.crc16($0) } == 0x31C3)
        #expect(HashSlot.of(Array("foo".utf8)) == 12182)
        #expect(HashSlot.of(Array("bar".utf8)) == 5061)
        #expect(HashSlot.of(Array("".utf8)) == 0)
        #expect(HashSlot.of(Array("user:1000".utf8)) == 1649)
    }

    @Test func hashTagsAsKeyHashSlotReadsThem() {
        let tagged = HashSlot.of(Array("{user1000}.following".utf8))
        #expect(tagged == HashSlot.of(Array("user1000".utf8)))
        #expect(HashSlot.of(Array("{user1000}.followers".utf8)) == tagged)
        // An empty tag, or no closing brace, hashes the whole key.
        #expect(HashSlot.of(Array("foo{}{bar}".utf8)) == 8363)
        #expect(HashSlot.of(Array("foo{{bar}}zap".utf8)) == 4015)
        #expect(HashSlot.of(Array("{bar".utf8)) == 4015)
        #expect(HashSlot.of(Array("foo{bar}{zap}".utf8)) == 5061)
    }

    /// Two bytes a step gives what one bit at a time gives, for every length and with the
    /// brace anywhere in or past the first words.
    @Test func crcAndTagScanMatchTheBitwiseDefinition() {
        func bitwise(_ bytes: [UInt8]) -> UInt16 {
            var crc: UInt16 = 0
            for b in bytes {
                crc ^= UInt16(b) << 8
                for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            }
            return crc
        }
        #expect(HashSlot.table == (0..<256).map { HashSlot.shifted(UInt16($0) << 8, by: 8) })
        #expect(HashSlot.tableTwoBack == (0..<256).map { HashSlot.shifted(UInt16($0) << 8, by: 16) })
        var rng = SystemRandomNumberGenerator()
        for length in 0..<40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(bytes.withUnsafeBytes { HashSlot.crc16($0) } == bitwise(bytes))
        }
        for position in 0..<20 {
            var key = Array(repeating: UInt8(ascii: "a"), count: 24)
            key[position] = UInt8(ascii: "{")
            key[position + 2] = UInt8(ascii: "}")
            #expect(HashSlot.of(key) == Int(bitwise([UInt8(ascii: "a")]) & 0x3FFF))
        }
    }

    @Test func bitmapRanges() {
        var slots = SlotBitmap()
        for s in 0...99 { slots[s] = true }
        slots[5000] = true
        slots[16383] = true
        #expect(slots.count == 102)
        #expect(slots.ranges == [0...99, 5000...5000, 16383...16383])
        slots[50] = false
        #expect(slots.ranges == [0...49, 51...99, 5000...5000, 16383...16383])
    }
}

@Suite struct BusMessageTests {
    /// A MEET from redis-server 7.0.15: its fields as the server reported them, the
    /// hostname extension, and the same bytes back from the encoder.
    @Test func decodesRedis7MeetWithHostname() throws {
        let bytes = BusFixtures.meet7015Hostname
        let m = try BusMessage.decode(bytes)
        #expect(m.messageType == .meet)
        #expect(m.sender.description == "b2adeb263daa1cf88475ece0d9d8701f989a2da4")
        #expect(m.port == 31101 && m.busPort == 41101)
        #expect(m.primary.isNone)
        #expect(m.flags & NodeFlags.primary != 0)
        #expect(m.slots.ranges == [0...99, 5000...5000])
        #expect(m.ip == "")
        guard case .gossip(let gossip, let extensions) = m.body else {
            Issue.record("not a gossip body")
            return
        }
        #expect(gossip.isEmpty)
        #expect(extensions == [.hostname("host-a.example")])
        #expect(m.encoded() == bytes)
    }

    @Test func decodesRedis8Meet() throws {
        let bytes = BusFixtures.meet802
        let m = try BusMessage.decode(bytes)
        #expect(m.messageType == .meet)
        #expect(m.sender.description == "64eea901406ed2648a6114309d35d2b1cfcc565a")
        #expect(m.port == 31102 && m.busPort == 41102)
        #expect(m.slots.ranges == [0...99, 5000...5000])
        #expect(m.encoded() == bytes)
    }

    @Test func decodesGossipAboutAPeer() throws {
        let bytes = BusFixtures.meet7015Gossip
        let m = try BusMessage.decode(bytes)
        #expect(m.sender.description == "effa643ab98cca8c5ef7a32f519df5a871903299")
        #expect(m.slots.ranges == [0...8191])
        guard case .gossip(let gossip, _) = m.body, gossip.count == 1 else {
            Issue.record("expected one gossip section")
            return
        }
        #expect(gossip[0].node.description == "4171da25841e237bafb50da86994e0216a88da5b")
        #expect(gossip[0].ip == "127.0.0.1")
        #expect(gossip[0].port == 31112 && gossip[0].busPort == 41112)
        #expect(gossip[0].flags == NodeFlags.primary)
        #expect(m.encoded() == bytes)
    }

    @Test func everyBodyRoundTrips() throws {
        let name = NodeName("0123456789abcdef0123456789abcdef01234567")!
        var slots = SlotBitmap()
        slots[1] = true
        slots[16000] = true
        let bodies: [(BusMessage.MessageType, BusMessage.Body)] = [
            (.ping, .gossip([], extensions: [])),
            (
                .pong,
                .gossip(
                    [
                        .init(
                            node: name, pingSent: 7, pongReceived: 9, ip: "::1", port: 7000, busPort: 17000,
                            flags: NodeFlags.replica, plaintextPort: 0)
                    ],
                    extensions: [
                        .hostname("h"), .humanNodename("node-1"), .forgottenNode(name, ttl: 55), .shardID(name),
                        .other(type: 4, payload: [UInt8](repeating: 7, count: 40)),
                    ])
            ),
            (.fail, .fail(name)),
            (.publish, .publish(channel: Array("news".utf8), message: Array("hello".utf8))),
            (.publishShard, .publish(channel: [], message: [])),
            (.update, .update(configEpoch: 42, node: name, slots: slots)),
            (.module, .module(id: 0xDEAD, type: 3, payload: [1, 2, 3, 4, 5])),
            (.failoverAuthRequest, .none), (.failoverAuthAck, .none), (.mfstart, .none),
        ]
        for (type, body) in bodies {
            let m = BusMessage(
                type: type, sender: name, port: 7000, busPort: 17000, body: body, currentEpoch: 5, configEpoch: 3,
                offset: 1234, slots: slots, ip: "10.0.0.1", flags: NodeFlags.primary | NodeFlags.myself, state: 1)
            var expected = m
            if case .gossip(_, let extensions) = body, !extensions.isEmpty {
                expected.messageFlags[0] |= BusMessage.flagExtensionData
            }
            let bytes = m.encoded()
            #expect(bytes.count % 8 == 0 || type == .publish || type == .publishShard || type == .module)
            #expect(try BusMessage.decode(bytes) == expected, "\(type)")
        }
    }

    /// What Redis drops is refused: a wrong signature or version, lengths that disagree
    /// with the body, an extension not padded to 8 bytes or running past the end.
    @Test func malformedMessagesAreRefused() throws {
        let good = BusFixtures.meet7015Hostname
        var bad = good
        bad[0] = UInt8(ascii: "X")
        #expect(throws: BusMessage.DecodeError.badSignatureOrLength) { try BusMessage.decode(bad) }
        bad = good
        bad[9] = 2
        #expect(throws: BusMessage.DecodeError.unsupportedVersion(2)) { try BusMessage.decode(bad) }
        // A gossip count the message cannot hold.
        bad = good
        bad[15] = 1
        #expect(throws: (any Error).self) { try BusMessage.decode(bad) }
        // The hostname extension's length made 12 (not a multiple of 8), then 4 000.
        bad = good
        bad[2256 + 3] = 12
        #expect(throws: BusMessage.DecodeError.badExtension(type: 2)) { try BusMessage.decode(bad) }
        bad[2256 + 2] = 0x0F
        bad[2256 + 3] = 0xA0
        #expect(throws: BusMessage.DecodeError.badExtension(type: 2)) { try BusMessage.decode(bad) }
        // A FAIL one byte short.
        let fail = BusMessage(
            type: .fail, sender: .none, port: 1, busPort: 2, body: .fail(NodeName.none)
        ).encoded()
        var short = Array(fail.dropLast())
        short[7] -= 1
        #expect(throws: BusMessage.DecodeError.lengthMismatch(type: 3, length: 2295, expected: 2296)) {
            try BusMessage.decode(short)
        }
        // Truncated input and short frames.
        #expect(throws: BusMessage.DecodeError.badSignatureOrLength) { try BusMessage.decode(Array(good.prefix(100))) }
        #expect(try Array(good.prefix(7)).withUnsafeBytes { try BusMessage.frameLength($0) } == nil)
        #expect(try Array(good.prefix(8)).withUnsafeBytes { try BusMessage.frameLength($0) } == good.count)
    }
}
