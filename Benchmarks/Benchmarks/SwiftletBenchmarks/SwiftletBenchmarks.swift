import Benchmark
import ByteStorage
import CSupport
import Commands
import DataStore
import RESP
import Scripting
import Server
import ServerConfig

// Names have no spaces: benchmark 1.38.1 writes a threshold file with spaces made
// underscores but looks for it by the name as it is.
//
// Each benchmark runs its operation `scalingFactor` times per measured iteration, so the
// figures the table marks with `*` are per operation. Allocations are counted exactly by
// Swiftlet's own malloc (CSupport's allocator.c replaces malloc for the whole process, so
// the framework's malloc interposer sees none); their thresholds, checked in under
// Thresholds/, make a new allocation on a hot path fail `make bench`. Wall-clock figures on a shared 2-core
// machine are for reading, not for thresholds: instructions per command are counted with
// callgrind by benchmarks/instructions.sh instead.

/// One connection of an in-process server, driven through `ConnectionMachine` exactly as the
/// runtime drives it after a read (parse the batch, prefetch, dispatch, encode the replies),
/// without sockets.
final class PipelinedClient {
    let server: ServerState
    let machine: ConnectionMachine

    init() {
        server = ServerState(config: Config(), commands: .standard(), scriptEngine: { ScriptEngine(server: $0) })
        let session = ClientSession(
            id: server.makeClientId(), address: "127.0.0.1:50000", localAddress: "127.0.0.1:6379", fd: 8,
            authenticated: true, now: server.clock())
        session.aclUser = server.acl.defaultUser
        server.register(session)
        machine = ConnectionMachine(context: CommandContext(server: server, session: session))
    }

    /// Runs every command in `input` (one read's worth) and drops the replies; returns the
    /// reply bytes so the work is not optimised away.
    @discardableResult
    func run(_ input: [UInt8]) -> Int {
        let consumed = input.withUnsafeBytes { bytes in
            machine.run(bytes, block: { _ in }, serveReadyKeys: {}, log: { _ in }).consumed
        }
        precondition(consumed == input.count, "a benchmark's input must hold whole commands")
        let replied = machine.context.output.count
        machine.context.output.removeAll(keepingCapacity: true)
        return replied
    }

    /// Runs `commands` once, to load data (replies dropped).
    func load(_ commands: [[String]]) {
        for chunk in stride(from: 0, to: commands.count, by: 256) {
            run(encode(Array(commands[chunk..<min(chunk + 256, commands.count)])))
        }
    }
}

/// Commands as a client sends them: RESP arrays of bulk strings.
func encode(_ commands: [[String]]) -> [UInt8] {
    var out: [UInt8] = []
    for command in commands {
        out.append(contentsOf: Array("*\(command.count)\r\n".utf8))
        for argument in command {
            let bytes = Array(argument.utf8)
            out.append(contentsOf: Array("$\(bytes.count)\r\n".utf8))
            out.append(contentsOf: bytes)
            out.append(contentsOf: Array("\r\n".utf8))
        }
    }
    return out
}

/// `redis-benchmark -P 16 -r 10000 -d 16`'s load: 16 commands per read on 10 000 keys.
let pipeline = 16
let keyCount = 10_000
let value16 = String(repeating: "x", count: 16)
/// redis-benchmark's key names: `key:` and twelve digits.
/// A pseudo-random spread of the n-th command over the keys.
func spread(_ n: Int, _ count: Int = keyCount) -> Int { (n &* 7919) % count }

func key(_ i: Int) -> String {
    let digits = String(i % keyCount)
    return "key:" + String(repeating: "0", count: 12 - digits.count) + digits
}

/// A command benchmark: 64 distinct reads of 16 commands, cycled; `command(n)` gives the
/// n-th command (`spread(n)` picks keys as redis-benchmark's `-r` does). The scaling factor
/// makes the table's `*` figures per read of 16 commands; a measured iteration is 1 000
/// reads, and the allocation threshold (`Thresholds/`) is checked on that raw count.
func commandBenchmark(
    _ name: String, setup: [[String]] = [], tolerance: Int = 0, command: @escaping (Int) -> [String]
) {
    Benchmark(
        "command-\(name)-P16",
        configuration: .init(
            metrics: [.wallClock, .throughput, allocations],
            scalingFactor: .kilo,
            maxDuration: .seconds(2),
            thresholds: [allocations: .init(absolute: [.p90: tolerance])]
        )
    ) { (benchmark: Benchmark, state: CommandState) in
        var n = 0
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(state.client.run(state.reads[n & (state.reads.count - 1)]))
                n += 1
            }
        }
    } setup: {
        let client = PipelinedClient()
        client.load((0..<keyCount).map { ["SET", key($0), value16] })
        client.load(setup)
        var reads: [[UInt8]] = []
        for r in 0..<64 {
            reads.append(encode((0..<pipeline).map { command(r * pipeline + $0) }))
        }
        // Warm up: values and tables reach their steady size before measuring.
        for read in reads { client.run(read) }
        return CommandState(client: client, reads: reads)
    }
}

struct CommandState {
    let client: PipelinedClient
    let reads: [[UInt8]]
}

/// Heap blocks allocated, counted by Swiftlet's malloc on this thread.
let allocations = BenchmarkMetric.custom("Allocations")

/// Runs `body` and records how many blocks it allocated.
@inline(__always)
func countingAllocations(_ benchmark: Benchmark, _ body: () -> Void) {
    let before = swiftlet_thread_allocations()
    body()
    benchmark.measurement(allocations, Int(swiftlet_thread_allocations() - before))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, allocations], scalingFactor: .kilo, maxDuration: .seconds(2),
        thresholds: [allocations: .init(absolute: [.p90: 0])])

    // Calibration: one heap allocation per operation, so the allocation counter is seen to
    // count (its raw figure, per 1 000 operations, is 1 000).
    Benchmark("calibration-one-allocation") { benchmark in
        var kept: [[UInt8]] = []
        kept.reserveCapacity(benchmark.scaledIterations.count)
        benchmark.startMeasurement()
        countingAllocations(benchmark) {
            for i in benchmark.scaledIterations {
                kept.append([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 64))
            }
        }
        blackHole(kept)
    }

    // The request parser: one read of 16 pipelined SET commands into a batch.
    Benchmark("parse-16-pipelined-SETs") { benchmark, input in
        var batch = CommandBatch()
        var parser = RequestParser()
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                batch.removeAll()
                input.withUnsafeBytes { blackHole(parser.parse($0, into: &batch)) }
            }
        }
    } setup: {
        encode((0..<pipeline).map { ["SET", key($0), value16] })
    }

    // The reply encoder: a bulk reply and an integer reply, as GET and INCR give them.
    Benchmark("encode-bulk-and-integer") { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(64)
        let value = Array(value16.utf8)
        countingAllocations(benchmark) {
            for i in benchmark.scaledIterations {
                out.removeAll(keepingCapacity: true)
                ReplyEncoder.appendBulk(value, to: &out)
                ReplyEncoder.appendInteger(Int64(i), to: &out)
                blackHole(out.count)
            }
        }
    }

    // Key lookup in a database of 10 000 keys.
    Benchmark("lookup-in-10000-keys") { benchmark, keys in
        var db = Database(seed: 1)
        for k in keys { db.set(k[...], .int(1), now: 0) }
        benchmark.startMeasurement()
        var i = 0
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                keys[i % keys.count].withUnsafeBytes { blackHole(db.lookup($0, now: 0)) }
                i &+= 7
            }
        }
    } setup: {
        (0..<keyCount).map { Array(key($0).utf8) }
    }

    // Each type's hot write, on a value of 100 entries that the loop keeps at that size.
    Benchmark("set-add-hashtable") { benchmark, members in
        let set = SetValue(encoding: .hashtable)
        let limits = SetValue.Limits()
        for m in members { _ = set.add(m, limits: limits) }
        benchmark.startMeasurement()
        var i = 0
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(set.add(members[i % members.count], limits: limits))
                i &+= 1
            }
        }
    } setup: {
        (0..<100).map { Array("member:\($0)".utf8) }
    }

    Benchmark("hash-set-listpack") { benchmark, fields in
        let hash = HashValue()
        let value = Array(value16.utf8)
        var i = 0
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(hash.set(fields[i % fields.count], value, maxEntries: 128, maxValue: 64))
                i &+= 1
            }
        }
    } setup: {
        (0..<100).map { Array("field:\($0)".utf8) }
    }

    Benchmark("sorted-set-update-score") { benchmark, members in
        let zset = SortedSetValue()
        for (i, m) in members.enumerated() { _ = zset.set(m, score: Double(i)) }
        benchmark.startMeasurement()
        var i = 0
        countingAllocations(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(zset.set(members[i % members.count], score: Double(i % 1000)))
                i &+= 1
            }
        }
    } setup: {
        (0..<100).map { Array("member:\($0)".utf8) }
    }

    // Whole commands, 16 per read, through the connection's state machine, on redis-benchmark's
    // data: 10 000 string keys, one list, set, hash and sorted set (the last three of 10 000
    // members, loaded first). LPUSH alternates with RPOP so the list keeps its length.
    commandBenchmark("GET") { ["GET", key(spread($0))] }
    commandBenchmark("SET") { ["SET", key(spread($0)), value16] }
    commandBenchmark("INCR") { ["INCR", "counter:\(spread($0))"] }
    commandBenchmark("LPUSH-RPOP") { n in n % 2 == 0 ? ["LPUSH", "mylist", value16] : ["RPOP", "mylist"] }
    commandBenchmark("SADD", setup: (0..<keyCount).map { ["SADD", "myset", "element:\($0)"] }) {
        ["SADD", "myset", "element:\(spread($0))"]
    }
    commandBenchmark("HSET", setup: (0..<keyCount).map { ["HSET", "myhash", "element:\($0)", value16] }) {
        ["HSET", "myhash", "element:\(spread($0))", value16]
    }
    commandBenchmark("ZADD", setup: (0..<keyCount).map { ["ZADD", "myzset", "\($0)", "element:\($0)"] }) {
        ["ZADD", "myzset", "\(spread($0 + 1, 1000))", "element:\(spread($0))"]
    }
    commandBenchmark("MSET-10-keys") { n in ["MSET"] + (0..<10).flatMap { [key(spread(n * 10 + $0)), value16] } }
    commandBenchmark("LRANGE-0-99", setup: (0..<100).map { ["RPUSH", "list", "element:\($0)"] }) { _ in
        ["LRANGE", "list", "0", "99"]
    }
    commandBenchmark("HGETALL-10-fields", setup: (0..<10).map { ["HSET", "hash", "field:\($0)", value16] }) { _ in
        ["HGETALL", "hash"]
    }
    commandBenchmark("ZRANGE-0-9-WITHSCORES", setup: (0..<100).map { ["ZADD", "zset", "\($0)", "element:\($0)"] }) {
        _ in ["ZRANGE", "zset", "0", "9", "WITHSCORES"]
    }
    // Lua's garbage collector runs now and then: a little slack (1/16 allocation per command).
    commandBenchmark(
        "EVALSHA-GET", setup: [["SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])"]], tolerance: 1000
    ) {
        ["EVALSHA", "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f", "1", key(spread($0))]
    }
}
