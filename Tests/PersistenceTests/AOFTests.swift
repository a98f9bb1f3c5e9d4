import DataStore
import RESP
import Testing

@testable import Persistence

/// The AOF's building blocks: the manifest, the command scanner (with truncated and broken
/// input), the command form of a rewrite, and RDB pieces only AOF and 7.4 files use.
@Suite struct AOFTests {
    @Test func manifestParsesAndPrintsAsRedis() throws {
        let text = """
            # comment
            file appendonly.aof.2.base.rdb seq 2 type b
            file appendonly.aof.1.incr.aof seq 1 type h
            file appendonly.aof.3.incr.aof seq 3 type i
            file appendonly.aof.4.incr.aof seq 4 type i startoffset 10

            """
        let m = try AOFManifest.parse(text)
        #expect(m.base == AOFManifest.Entry(name: "appendonly.aof.2.base.rdb", seq: 2, type: .base))
        #expect(m.incrs.map(\.seq) == [3, 4])
        #expect(m.history.map(\.name) == ["appendonly.aof.1.incr.aof"])
        #expect(m.baseSeq == 2 && m.incrSeq == 4)
        #expect(
            m.text
                == "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n"
        )
        #expect(try AOFManifest.parse(m.text) == m)
    }

    @Test func badManifestsAreRefused() {
        for text in [
            "file a seq 1 type b\nfile b seq 2 type b\n",  // two bases
            "file a seq 3 type i\nfile b seq 2 type i\n",  // sequence going back
            "file a seq\n", "file a seq 1 type x\n", "file ../a seq 1 type b\n", "",
        ] {
            #expect(throws: AOFError.self) { try AOFManifest.parse(text) }
        }
    }

    @Test func manifestFaultsHaveRedisMessages() {
        func message(_ text: String) -> String? {
            do {
                _ = try AOFManifest.parse(text)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message("file a seq 1 type i\n\nfile b seq 2 type i\n") == "Invalid AOF manifest file format")
        #expect(message("file a seq 1 type z\n") == "Unknown AOF file type")
        #expect(message("file a seq 1 type i") == "The AOF manifest file contains too long line")  // no newline
        #expect(message("file a seq 1 type i " + String(repeating: "x", count: 1010) + "\n") != nil)
        #expect(message("file a seq 0 type i\n") == "Invalid AOF manifest file format")
        #expect(message("file sub/a seq 1 type b\n") == "File can't be a path, just a filename")
        #expect(message("") == "Found an empty AOF manifest")
        #expect(message("FILE a SEQ 1 TYPE i\n") == nil)  // keys in any case
    }

    @Test func namesWithSpacesAreQuotedAndReadBack() throws {
        var m = AOFManifest()
        m.base = AOFManifest.Entry(name: " file seq \n\n.aof .2.base.rdb", seq: 2, type: .base)
        m.incrs = [AOFManifest.Entry(name: "plain.aof.2.incr.aof", seq: 2, type: .incr)]
        #expect(
            m.text
                == "file \" file seq \\n\\n.aof .2.base.rdb\" seq 2 type b\nfile plain.aof.2.incr.aof seq 2 type i\n")
        #expect(try AOFManifest.parse(m.text) == m)
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func scannerReadsCommandsAndAnnotations() {
        var data: [UInt8] = []
        AOFEncoding.append([bytes("SELECT"), bytes("0")], into: &data)
        data += bytes("#TS:1700000000\r\n")
        AOFEncoding.append([bytes("SET"), bytes("k"), []], into: &data)
        var s = AOFCommandScanner(data)
        guard case .command(let a) = s.next(), case .command(let b) = s.next(), case .end = s.next() else {
            Issue.record("not two commands")
            return
        }
        #expect(a == [bytes("SELECT"), bytes("0")])
        #expect(b == [bytes("SET"), bytes("k"), []])
        #expect(s.validUpTo == data.count)
    }

    @Test func scannerStopsAtATornOrBrokenCommand() {
        var whole: [UInt8] = []
        AOFEncoding.append([bytes("SET"), bytes("a"), bytes("1")], into: &whole)
        var torn = whole
        AOFEncoding.append([bytes("SET"), bytes("b"), bytes("2")], into: &torn)
        for cut in (whole.count + 1)..<torn.count {
            var s = AOFCommandScanner(Array(torn[0..<cut]))
            guard case .command = s.next(), case .truncated = s.next() else {
                Issue.record("cut at \(cut) not seen as truncated")
                continue
            }
            #expect(s.validUpTo == whole.count)
        }
        for broken in ["*2\r\n$3\r\nGET\r\n+x\r\n", "*1\r\n$3\r\nGETX\r\n", "hello\r\n", "*0\r\n", "*-1\r\n"] {
            var s = AOFCommandScanner(whole + bytes(broken))
            guard case .command = s.next(), case .bad = s.next() else {
                Issue.record("\(broken) not seen as bad")
                continue
            }
            #expect(s.validUpTo == whole.count)
        }
    }

    @Test func rewriteWritesCreatingCommandsInBatches() {
        var w = AOFCommandWriter(fd: -1)
        w.selectDB(2)
        w.entry(
            key: bytes("l"), value: .list(ListValue(elements: (0..<130).map { Array(String($0).utf8) })),
            expireAt: 1_800_000_000_000)
        let z = SortedSetValue()
        z.set(bytes("m"), score: 2.5)
        w.entry(key: bytes("z"), value: .zset(z), expireAt: KeyEntry.noExpiry)
        let h = HashValue()
        h.set(bytes("f"), bytes("v"), maxEntries: 128, maxValue: 64)
        h.setFieldExpiry(bytes("f"), at: 1_900_000_000_000)
        w.entry(key: bytes("h"), value: .hash(h), expireAt: KeyEntry.noExpiry)
        var s = AOFCommandScanner(w.bytes)
        var commands: [[[UInt8]]] = []
        while case .command(let args) = s.next() { commands.append(args) }
        #expect(
            commands.map { String(decoding: $0[0], as: UTF8.self) } == [
                "SELECT", "RPUSH", "RPUSH", "RPUSH", "PEXPIREAT", "ZADD", "HMSET", "HPEXPIREAT",
            ])
        #expect(commands[1].count == 66 && commands[3].count == 4)
        #expect(commands[4] == [bytes("PEXPIREAT"), bytes("l"), bytes("1800000000000")])
        #expect(commands[5] == [bytes("ZADD"), bytes("z"), bytes("2.5"), bytes("m")])
        #expect(
            commands[7] == [
                bytes("HPEXPIREAT"), bytes("h"), bytes("1900000000000"), bytes("FIELDS"), bytes("1"), bytes("f"),
            ])
    }

    @Test func hashFieldTTLsRoundTripAsRedis74Types() throws {
        let ks = Keyspace(databases: 1)
        let small = HashValue()
        let big = HashValue()
        for i in 0..<3 { small.set(bytes("f\(i)"), bytes("v\(i)"), maxEntries: 128, maxValue: 64) }
        for i in 0..<300 { big.set(bytes("f\(i)"), bytes("v\(i)"), maxEntries: 128, maxValue: 64) }
        small.setFieldExpiry(bytes("f1"), at: 1_800_000_000_123)
        big.setFieldExpiry(bytes("f7"), at: 1_800_000_000_000)
        big.setFieldExpiry(bytes("f9"), at: 1_800_000_005_000)
        ks.databases[0].table.insertNew(bytes("small"), value: .hash(small))
        ks.databases[0].table.insertNew(bytes("big"), value: .hash(big))
        var w = RDBWriter(version: 12)
        w.dataset(ks, now: 1_700_000_000_000)
        #expect(Array(w.bytes[0..<9]) == bytes("REDIS0012"))
        let copy = Keyspace(databases: 1)
        var r = RDBReader(w.bytes)
        _ = try r.load(into: copy, now: 1_700_000_000_000)
        guard case .hash(let s2) = copy.databases[0].table[copy.databases[0].find("small")!].value,
            case .hash(let b2) = copy.databases[0].table[copy.databases[0].find("big")!].value
        else {
            Issue.record("hashes missing")
            return
        }
        #expect(s2.fieldExpires == [bytes("f1"): 1_800_000_000_123])
        #expect(b2.fieldExpires == [bytes("f7"): 1_800_000_000_000, bytes("f9"): 1_800_000_005_000])
        #expect(b2.count == 300 && b2.value(bytes("f299")) == bytes("v299"))
        #expect(copy.databases[0].fieldExpiryKeys == [bytes("small"), bytes("big")])
    }

    @Test func zipmapHashesLoad() throws {
        // Redis 2.4's zipmap: zmlen, then (len key len free value) entries, 0xFF.
        let zipmap: [UInt8] =
            [2, 1] + bytes("a") + [2, 0] + bytes("xy") + [1] + bytes("b") + [1, 2] + bytes("z")
            + [0, 0] + [0xFF]
        var r = RDBReader([9, 1, UInt8(ascii: "h"), UInt8(zipmap.count)] + zipmap)
        _ = try r.byte()
        _ = try r.string()
        guard case .hash(let h) = try r.object(9, limits: LoadLimits()) else {
            Issue.record("not a hash")
            return
        }
        #expect(h.value(bytes("a")) == bytes("xy") && h.value(bytes("b")) == bytes("z") && h.count == 2)
    }

    @Test func rdbWriterVersionsAndSteppedLoading() throws {
        let ks = Keyspace(databases: 1)
        for i in 0..<5000 { ks.databases[0].table.insertNew(bytes("k\(i)"), value: .int(Int64(i))) }
        for version in 9...12 {
            var w = RDBWriter(version: version)
            w.dataset(ks, now: 0)
            #expect(Array(w.bytes[0..<9]) == bytes("REDIS00" + (version < 10 ? "0" : "") + String(version)))
            var r = RDBReader(w.bytes)
            try r.begin()
            let copy = Keyspace(databases: 1)
            var steps = 0
            while try !r.step(into: copy, now: 0, limits: LoadLimits(), maxKeys: 1000) { steps += 1 }
            #expect(steps == 5 && r.loaded == 5000 && copy.databases[0].count == 5000)
        }
    }
}
