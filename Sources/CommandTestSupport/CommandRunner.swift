import Commands
import DataStore
import RESP
import Scripting
import Server
import ServerConfig

/// The clock a test server sees: it moves only when the test moves it.
public final class ManualClock {
    public var now: Int64

    public init(now: Int64) { self.now = now }

    public func advance(milliseconds: Int64) { now += milliseconds }
}

/// Runs commands in-process, without sockets, on a server with the standard command table
/// and a manual clock: for unit tests that want exact replies. `client()` opens more
/// connections to the same server (tracking, CLIENT KILL, pub/sub, blocking).
public final class CommandRunner {
    public let server: ServerState
    public let clock: ManualClock
    /// The first client.
    public let first: TestClient
    public var context: CommandContext { first.context }
    /// The clock commands see; tests move it.
    public var now: Int64 {
        get { clock.now }
        set {
            clock.now = newValue
            server.keyspace.now = newValue
        }
    }

    public init(config: Config = Config(), now: Int64 = 1_700_000_000_000, authenticated: Bool = true) {
        let clock = ManualClock(now: now)
        self.clock = clock
        let server = ServerState(
            config: config, commands: .standard(), scriptEngine: { ScriptEngine(server: $0) }, clock: { clock.now })
        self.server = server
        server.keyspace.now = now
        first = TestClient(server: server, port: 50000, authenticated: authenticated, now: now)
    }

    /// Another connection to the same server.
    public func client(authenticated: Bool = true) -> TestClient {
        TestClient(
            server: server, port: 50000 + server.clients.count, authenticated: authenticated, now: clock.now)
    }

    /// Runs one command on the first client and returns its reply, decoded from the bytes
    /// the client would get.
    @discardableResult
    public func run(_ args: [[UInt8]]) -> Reply { first.run(args) }

    @discardableResult
    public func run(_ args: String...) -> Reply { first.run(args.map { Array($0.utf8) }) }

    /// Runs one command and leaves its reply bytes in `context.output`.
    public func rawRun(_ args: [[UInt8]]) { first.rawRun(args) }

    public func bytes(_ args: String...) -> [UInt8] { first.bytes(args.map { Array($0.utf8) }) }
}

/// One connection of a `CommandRunner`'s server, with what the server pushed to it
/// (invalidations, published messages, MONITOR lines) kept in `delivered`.
public final class TestClient {
    public let context: CommandContext
    public var session: ClientSession { context.session }
    /// Bytes delivered outside replies (pushes), oldest first.
    public var delivered: [[UInt8]] = []

    init(server: ServerState, port: Int, authenticated: Bool, now: Int64) {
        let session = ClientSession(
            id: server.makeClientId(), address: "127.0.0.1:\(port)", localAddress: "127.0.0.1:6379", fd: 8,
            authenticated: authenticated, now: now)
        session.aclUser = server.acl.defaultUser
        server.register(session)
        context = CommandContext(server: server, session: session)
        session.deliverHook = { [unowned self] bytes in self.delivered.append(bytes) }
    }

    @discardableResult
    public func run(_ args: [[UInt8]]) -> Reply {
        rawRun(args)
        let bytes = context.output
        context.output.removeAll()
        return ReplyParser.parse(bytes)?.0 ?? .raw(bytes)
    }

    @discardableResult
    public func run(_ args: String...) -> Reply { run(args.map { Array($0.utf8) }) }

    /// The pushes delivered so far, decoded, and forgotten.
    public func takeDelivered() -> [Reply] {
        defer { delivered.removeAll() }
        return delivered.compactMap { ReplyParser.parse($0)?.0 }
    }

    /// Runs one command and leaves its reply bytes in `context.output`.
    public func rawRun(_ args: [[UInt8]]) {
        load(args)
        context.beginBatch()
        _ = context.execute(commandAt: 0)
    }

    /// Makes `args` the context's current command without running it (for tests of what
    /// reads arguments).
    public func load(_ args: [[UInt8]]) {
        context.batch.removeAll()
        context.batch.commandStarts.append(0)
        for a in args {
            let start = context.batch.bytes.count
            context.batch.bytes.append(contentsOf: a)
            context.batch.spans.append(start..<(start + a.count))
        }
        let spans = context.batch.arguments(of: 0)
        context.argBase = spans.lowerBound
        context.argc = spans.count
    }

    public func bytes(_ args: [[UInt8]]) -> [UInt8] {
        rawRun(args)
        defer { context.output.removeAll() }
        return context.output
    }
}
