import DataStore
import RESP
import Server
import ServerConfig

/// Runs commands in-process, without sockets: for tests (and tools) that want exact replies.
public final class CommandRunner {
    public let server: ServerState
    public let context: CommandContext
    /// The clock commands see; tests move it.
    public var now: Int64

    public init(config: Config = Config(), now: Int64 = 1_700_000_000_000, authenticated: Bool = true) {
        self.now = now
        var clockOwner: CommandRunner?
        let server = ServerState(config: config, commands: .standard(), clock: { clockOwner?.now ?? 0 })
        self.server = server
        let session = ClientSession(
            id: server.makeClientId(), address: "127.0.0.1:50000",
            localAddress: "127.0.0.1:6379", fd: 8, authenticated: authenticated, now: now)
        session.aclUser = server.acl.defaultUser
        server.register(session)
        context = CommandContext(server: server, session: session)
        clockOwner = self
        server.keyspace.now = now
    }

    /// Runs one command and returns its reply, decoded from the bytes the client would get.
    @discardableResult
    public func run(_ args: [[UInt8]]) -> Reply {
        rawRun(args)
        let bytes = context.output
        context.output.removeAll()
        return ReplyParser.parse(bytes)?.0 ?? .raw(bytes)
    }

    @discardableResult
    public func run(_ args: String...) -> Reply { run(args.map { Array($0.utf8) }) }

    /// Runs one command and returns the raw reply bytes.
    public func rawRun(_ args: [[UInt8]]) {
        context.batch.removeAll()
        context.batch.commandStarts.append(0)
        for a in args {
            let start = context.batch.bytes.count
            context.batch.bytes.append(contentsOf: a)
            context.batch.spans.append(start..<(start + a.count))
        }
        context.beginBatch()
        _ = context.execute(commandAt: 0)
    }

    public func bytes(_ args: String...) -> [UInt8] {
        rawRun(args.map { Array($0.utf8) })
        defer { context.output.removeAll() }
        return context.output
    }
}
