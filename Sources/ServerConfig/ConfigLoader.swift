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
    while index < arguments.count {
        let arg = arguments[index]
        if arg.hasPrefix("--") && arg.count > 2 {
            if !options.isEmpty { options += "\n" }
            options += String(arg.dropFirst(2)) + " "
        } else {
            options += Repr.quoted(arg) + " "
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
    /// Applies configuration text line by line; on the first bad line, returns Redis's
    /// `*** FATAL CONFIG FILE ERROR ***` report.
    public func apply(text: String, depth: Int = 0) throws(ConfigError) {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(rawLine).trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ message: String) -> ConfigError {
                ConfigError(
                    "\n*** FATAL CONFIG FILE ERROR (Redis \(redisCompatibleVersion)) ***\n"
                        + "Reading the configuration file, at line \(lineNumber)\n>>> '\(line)'\n\(message)\n")
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
                    userDirectives.append(values)
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
