import RESP

/// Splits a config line with Redis's quoting rules.
func splitConfigArgs(_ line: String) -> [String]? {
    guard let args = splitArgs(line) else { return nil }
    return args.map { String(decoding: $0, as: UTF8.self) }
}

/// What `swiftlet-server [config-file] [--directive value ...]` asked for.
public struct StartupOptions: Sendable {
    public var configFile: String?
    /// The configuration text: the file's contents, a newline, then the flags as lines.
    public var text: String
}

/// Turns redis-server's command line into configuration text, as Redis's main() does:
/// an optional config file first, then each `--name` starts a new line and the following
/// arguments are its values.
public func startupOptions(from arguments: [String]) throws(ConfigError) -> StartupOptions {
    var index = 0
    var file: String?
    if let first = arguments.first, !first.hasPrefix("-") || first == "-" {
        file = first
        index = 1
    }
    var options = ""
    // Whether the last option name has its value: a name alone (`--port`) takes the next
    // argument as its value even when it starts with `--` (`--logfile --my--file`), as
    // Redis 7's main() reads its arguments.
    var lastHasValue = true
    while index < arguments.count {
        let arg = arguments[index]
        let isLast = index == arguments.count - 1
        if lastHasValue && arg.hasPrefix("--") {
            if !options.isEmpty { options += "\n" }
            options += String(arg.dropFirst(2)) + " "
            if (splitArgs(Array(arg.utf8))?.count ?? 0) == 1 {
                lastHasValue = false
                let nextIsName = !isLast && arguments[index + 1].hasPrefix("--")
                let name = arg.lowercased()
                // `--save` and `--sentinel` with no value before another option (or at the
                // end): save gets "", sentinel is a flag (Redis's pre-7.0.1 forms).
                if name == "--save" && (nextIsName || isLast) {
                    options += "\"\""
                    lastHasValue = true
                } else if name == "--sentinel" && (nextIsName || isLast) {
                    lastHasValue = true
                }
            } else {
                lastHasValue = true
            }
        } else {
            options += Repr.quoted(arg) + " "
            lastHasValue = true
        }
        index += 1
    }
    var text = ""
    if let file, file != "-" {
        text = try readFile(file)
    }
    if !options.isEmpty { text += "\n" + options }
    return StartupOptions(configFile: file, text: text)
}

/// Directives Redis accepts in a file that are not CONFIG parameters.
let fileOnlyDirectives: Set<String> = ["include", "rename-command", "user", "loadmodule", "sentinel"]

extension Config {
    /// Redis's report of a bad configuration line.
    public static func fatalReport(lineNumber: Int, line: String, _ message: String) -> String {
        "\n*** FATAL CONFIG FILE ERROR (Redis \(redisCompatibleVersion)) ***\n"
            + "Reading the configuration file, at line \(lineNumber)\n>>> '\(line)'\n\(message)\n"
    }

    /// Applies configuration text line by line; on the first bad line, returns Redis's
    /// `*** FATAL CONFIG FILE ERROR ***` report.
    public func apply(text: String, depth: Int = 0) throws(ConfigError) {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(rawLine).trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ message: String) -> ConfigError {
                ConfigError(Self.fatalReport(lineNumber: lineNumber, line: line, message))
            }
            guard let args = splitConfigArgs(line) else { throw fail("Unbalanced quotes in configuration line") }
            guard let first = args.first else { continue }
            let name = first.lowercased()
            let values = Array(args.dropFirst())
            if fileOnlyDirectives.contains(name) {
                if name == "include" {
                    guard values.count == 1, depth < 16 else {
                        throw fail("Bad directive or wrong number of arguments")
                    }
                    let included: String
                    do { included = try readFile(values[0]) } catch { throw fail(error.message) }
                    try apply(text: included, depth: depth + 1)
                }
                if name == "user" {
                    guard !values.isEmpty else { throw fail("Bad directive or wrong number of arguments") }
                    if userDirectives.contains(where: { $0[0] == values[0] }) {
                        throw fail(
                            "Error in user declaration '\(values[0])': Duplicate user found. A user can only be defined once in config files"
                        )
                    }
                    userDirectives.append(values)
                }
                if name == "rename-command" {
                    guard values.count == 2 else { throw fail("Bad directive or wrong number of arguments") }
                    let (number, text) = (lineNumber, line)
                    commandRenames.append(
                        CommandRename(old: values[0], new: values[1]) { message in
                            Self.fatalReport(lineNumber: number, line: text, message)
                        })
                }
                continue
            }
            do {
                try load(name, values)
            } catch {
                throw fail(error.message)
            }
        }
        fileSaveSeen = false
    }
}
