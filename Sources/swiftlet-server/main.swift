import ServerConfig
import ServerRuntime

#if canImport(Glibc)
    import Glibc
#endif

// swiftlet-server [/path/to/redis.conf] [--directive value ...], exactly like redis-server.
let arguments = Array(CommandLine.arguments.dropFirst())

if arguments.first == "-v" || arguments.first == "--version" {
    print(
        "Redis server v=\(redisCompatibleVersion) sha=00000000:0 malloc=libc bits=64 build=swiftlet-\(swiftletVersion)")
    exit(0)
}
if arguments.first == "-h" || arguments.first == "--help" {
    let usage = """
        Usage: ./swiftlet-server [/path/to/redis.conf] [options] [-]
               ./swiftlet-server - (read config from stdin)
               ./swiftlet-server -v or --version
               ./swiftlet-server -h or --help

        Examples:
               ./swiftlet-server (run the server with default conf)
               ./swiftlet-server /etc/redis/6379.conf
               ./swiftlet-server --port 7777
               ./swiftlet-server /etc/myredis.conf --loglevel verbose -
               ./swiftlet-server /etc/myredis.conf --loglevel verbose

        """
    writeStderr(usage)
    exit(1)
}

func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
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
    exit(1)
}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return path }
    return stringFromCBuffer(buf) + "/" + path
}

let runtime = ServerRuntime(config: config)
runtime.state.executablePath = absolutePath(CommandLine.arguments[0])
do {
    try runtime.start()
} catch {
    runtime.log.warning("\(error)")
    exit(1)
}
exit(runtime.waitForExit())
