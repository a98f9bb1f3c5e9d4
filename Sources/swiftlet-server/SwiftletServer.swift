import ArgumentParser
import ServerConfig
import ServerRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftlet-server [/path/to/redis.conf] [--directive value ...] [-]`, exactly like
/// redis-server: the directives are not options of this program but configuration lines,
/// so they are collected as they come and handed to the configuration loader.
@main
struct SwiftletServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet-server",
        abstract: "A Redis-compatible in-memory data server.",
        usage: """
            swiftlet-server [/path/to/redis.conf] [options] [-]
              swiftlet-server - (read config from stdin)
              swiftlet-server --port 7777
              swiftlet-server /etc/myredis.conf --loglevel verbose
            """
    )

    @Flag(name: [.customShort("v"), .long], help: "Print the version and exit.")
    var version = false

    @Argument(
        parsing: .allUnrecognized,
        help: "An optional redis.conf path, then configuration directives as --name value [value ...].")
    var arguments: [String] = []

    func run() throws {
        if version {
            print(
                "Redis server v=\(redisCompatibleVersion) sha=00000000:0 malloc=libc bits=64 build=swiftlet-\(swiftletVersion)"
            )
            return
        }
        let config = Config()
        do {
            let options = try startupOptions(from: arguments)
            if let file = options.configFile, file != "-" {
                config.configFile = absolutePath(file)
            }
            var text = options.text
            if options.configFile == "-" || arguments.last == "-" {
                var stdinText = ""
                while let line = readLine(strippingNewline: false) { stdinText += line }
                text = stdinText + "\n" + text
            }
            try config.apply(text: text)
        } catch {
            writeStderr(error.message)
            throw ExitCode(1)
        }
        let runtime = ServerRuntime(config: config)
        // rename-command, as Redis applies it while reading the file: a bad line stops here.
        for rename in config.commandRenames {
            if let failure = runtime.state.commands.rename(rename.old, to: rename.new) {
                writeStderr(rename.report(failure))
                throw ExitCode(1)
            }
        }
        runtime.state.executablePath = absolutePath(CommandLine.arguments[0])
        do {
            try runtime.start()
        } catch {
            runtime.log.warning("\(error)")
            runtime.abandonStart()
            throw ExitCode(1)
        }
        let code = runtime.waitForExit()
        if code != 0 { throw ExitCode(code) }
    }
}

func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return path }
    return stringFromCBuffer(buf) + "/" + path
}
