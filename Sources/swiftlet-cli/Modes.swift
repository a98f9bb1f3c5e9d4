// swiftlet-cli's special modes: --scan, --bigkeys/--memkeys, --pipe, --stat, --latency.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Modes

/// One SCAN call: the next cursor and the keys.
@MainActor func scanStep(_ cursor: [UInt8]) -> ([UInt8], [[UInt8]]) {
    var args: [[UInt8]] = [Array("SCAN".utf8), cursor]
    if let pattern = options.pattern { args += [Array("MATCH".utf8), Array(pattern.utf8)] }
    if let count = options.count { args += [Array("COUNT".utf8), Array(String(count).utf8)] }
    connection.send(args)
    let reply = connection.reply()
    guard case .aggregate(_, let parts) = reply, parts.count == 2, case .string(let next) = parts[0],
        case .aggregate(_, let keys) = parts[1]
    else {
        if case .error(let e) = reply { fail("ERROR: " + String(decoding: e, as: UTF8.self)) }
        fail("ERROR: unexpected SCAN reply")
    }
    return (
        next,
        keys.compactMap {
            if case .string(let k) = $0 { return k }
            return nil
        }
    )
}

/// --scan: every key matching --pattern, one per line.
@MainActor func scanMode() -> Never {
    var cursor = Array("0".utf8)
    repeat {
        let (next, keys) = scanStep(cursor)
        var out: [UInt8] = []
        for key in keys { out += key + [10] }
        writeBytes(1, out)
        cursor = next
    } while cursor != Array("0".utf8)
    exit(0)
}

/// Pipelined replies to `commands`, in order.
@MainActor func pipelined(_ commands: [[[UInt8]]]) -> [CLIReply] {
    for c in commands { connection.send(c) }
    return commands.map { _ in connection.reply() }
}

func formatPercent(_ value: Double) -> String {
    // C's %05.2f.
    var text = fixed2(value)
    while text.count < 5 { text = "0" + text }
    return text
}

func fixed2(_ value: Double) -> String {
    let scaled = (value * 100).rounded()
    let whole = Int(scaled) / 100
    let fraction = Int(abs(scaled)) % 100
    return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
}

func padded(_ text: String, _ width: Int, left: Bool) -> String {
    let pad = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + pad : pad + text
}

/// --bigkeys / --memkeys: redis-cli's findBigKeys, the same lines in the same order (the
/// summary lists types in a fixed order where redis-cli's follows its hash table).
@MainActor func bigKeysMode(memory: Bool) -> Never {
    struct TypeInfo {
        var name: String
        var sizeCommand: String
        var unit: String
        var biggest: Int64 = 0
        var biggestKey: String?
        var count = 0
        var total: Int64 = 0
    }
    var types: [String: TypeInfo] = [
        "string": TypeInfo(name: "string", sizeCommand: "STRLEN", unit: "bytes"),
        "list": TypeInfo(name: "list", sizeCommand: "LLEN", unit: "items"),
        "set": TypeInfo(name: "set", sizeCommand: "SCARD", unit: "members"),
        "hash": TypeInfo(name: "hash", sizeCommand: "HLEN", unit: "fields"),
        "zset": TypeInfo(name: "zset", sizeCommand: "ZCARD", unit: "members"),
        "stream": TypeInfo(name: "stream", sizeCommand: "XLEN", unit: "entries"),
    ]
    let order = ["string", "list", "set", "hash", "zset", "stream"]
    var out = "\n# Scanning the entire keyspace to find biggest keys as well as\n"
    out += "# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n"
    out += "# per 100 SCAN commands (not usually needed).\n\n"
    writeOut(1, out)
    connection.send([Array("DBSIZE".utf8)])
    guard case .integer(let totalText) = connection.reply(),
        let totalKeys = Int(String(decoding: totalText, as: UTF8.self))
    else { fail("ERROR: couldn't determine DBSIZE!") }
    var sampled = 0
    var totalLength = 0
    var cursor = Array("0".utf8)
    repeat {
        let pct = totalKeys > 0 ? 100 * Double(sampled) / Double(totalKeys) : 0
        let (next, keys) = scanStep(cursor)
        cursor = next
        let typeReplies = pipelined(keys.map { [Array("TYPE".utf8), $0] })
        let names: [String?] = typeReplies.map {
            if case .status(let t) = $0 { return String(decoding: t, as: UTF8.self) }
            return nil
        }
        var sizeCommands: [[[UInt8]]] = []
        for (key, name) in zip(keys, names) {
            guard let name, let info = types[name] else { continue }
            if memory {
                var c = [Array("MEMORY".utf8), Array("USAGE".utf8), key]
                if let samples = options.memKeysSamples { c += [Array("SAMPLES".utf8), Array(String(samples).utf8)] }
                sizeCommands.append(c)
            } else {
                sizeCommands.append([Array(info.sizeCommand.utf8), key])
            }
        }
        var sizes = pipelined(sizeCommands).makeIterator()
        var text = ""
        for (key, name) in zip(keys, names) {
            guard let name, types[name] != nil else { continue }
            var size: Int64 = 0
            if case .integer(let n)? = sizes.next() { size = Int64(String(decoding: n, as: UTF8.self)) ?? 0 }
            types[name]!.total += size
            types[name]!.count += 1
            totalLength += key.count
            sampled += 1
            if types[name]!.biggest < size {
                let shown = String(decoding: quoted(key), as: UTF8.self)
                types[name]!.biggestKey = shown
                text +=
                    "[\(formatPercent(pct))%] Biggest \(padded(name, 6, left: true)) found so far '\(shown)' with \(size) \(memory ? "bytes" : types[name]!.unit)\n"
                types[name]!.biggest = size
            }
            if sampled % 1_000_000 == 0 { text += "[\(formatPercent(pct))%] Sampled \(sampled) keys so far\n" }
        }
        writeOut(1, text)
        if sampled > 0 && sampled % 100 == 0 && options.interval > 0 { usleep(UInt32(options.interval * 1_000_000)) }
    } while cursor != Array("0".utf8)
    out = "\n-------- summary -------\n\n"
    out += "Sampled \(sampled) keys in the keyspace!\n"
    out +=
        "Total key length in bytes is \(totalLength) (avg len \(fixed2(sampled > 0 ? Double(totalLength) / Double(sampled) : 0)))\n\n"
    for name in order {
        let t = types[name]!
        if let key = t.biggestKey {
            out +=
                "Biggest \(padded(name, 6, left: false)) found '\(key)' has \(t.biggest) \(memory ? "bytes" : t.unit)\n"
        }
    }
    out += "\n"
    for name in order {
        let t = types[name]!
        let share = sampled > 0 ? 100 * Double(t.count) / Double(sampled) : 0
        let average = t.count > 0 ? Double(t.total) / Double(t.count) : 0
        out +=
            "\(t.count) \(name)s with \(t.total) \(memory ? "bytes" : t.unit) (\(formatPercent(share))% of keys, avg size \(fixed2(average)))\n"
    }
    writeOut(1, out)
    exit(0)
}

/// --pipe: raw protocol from standard input, then an ECHO of a random marker; counts the
/// replies until the marker comes back (redis-cli's pipe mode).
@MainActor func pipeMode() -> Never {
    let input = readAllStdin()
    var marker: [UInt8] = []
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<20 { marker.append(UInt8(ascii: "a") + UInt8.random(in: 0..<26, using: &rng)) }
    writeBytes(connection.fd, input)
    connection.send([Array("ECHO".utf8), marker])
    writeOut(1, "All data transferred. Waiting for the last reply...\n")
    var replies = 0
    var errors = 0
    while true {
        let reply = connection.reply()
        if case .string(let s) = reply, s == marker { break }
        replies += 1
        if case .error(let e) = reply {
            errors += 1
            writeBytes(2, e + [10])
        }
    }
    writeOut(1, "Last reply received from server.\n")
    writeOut(1, "errors: \(errors), replies: \(replies)\n")
    exit(errors > 0 ? 1 : 0)
}

func milliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// --latency / --latency-history: PING every 10 ms (redis-cli's latencyMode). On a terminal
/// the line is redrawn; otherwise --latency prints one line after a second (or -i) and
/// exits, and --latency-history prints every sample.
@MainActor func latencyMode(history: Bool) -> Never {
    let terminal = !raw && !options.csv
    let historyInterval: Int64 = options.interval > 0 ? Int64(options.interval * 1000) : 15000
    let reportAfter: Int64 = options.interval > 0 ? Int64(options.interval * 1000) : 1000
    var historyStart = milliseconds()
    var minimum: Int64 = 0
    var maximum: Int64 = 0
    var total: Int64 = 0
    var count: Int64 = 0
    func line() -> String {
        let average = count > 0 ? Double(total) / Double(count) : 0
        return terminal
            ? "min: \(minimum), max: \(maximum), avg: \(fixed2(average)) (\(count) samples)"
            : [String(minimum), String(maximum), fixed2(average), String(count)].joined(
                separator: options.csv ? "," : " ")
                + "\n"
    }
    while true {
        let start = milliseconds()
        connection.send([Array("PING".utf8)])
        _ = connection.reply()
        let latency = milliseconds() - start
        count += 1
        if count == 1 {
            minimum = latency
            maximum = latency
            total = latency
        } else {
            minimum = min(minimum, latency)
            maximum = max(maximum, latency)
            total += latency
        }
        if terminal {
            writeOut(1, "\u{1b}[0G\u{1b}[2K" + line())
        } else if history {
            writeOut(1, line())
        } else if milliseconds() - historyStart > reportAfter {
            writeOut(1, line())
            exit(0)
        }
        if history && milliseconds() - historyStart > historyInterval {
            let seconds = Double(milliseconds() - historyStart) / 1000
            writeOut(1, " -- \(fixed2(seconds)) seconds range\n")
            historyStart = milliseconds()
            minimum = 0
            maximum = 0
            total = 0
            count = 0
        }
        usleep(10_000)
    }
}

/// redis-cli's bytesToHuman.
func humanBytes(_ value: Int64) -> String {
    var n = Double(value)
    let units = ["B", "K", "M", "G", "T", "P"]
    if value < 1024 { return "\(value)B" }
    var unit = 0
    while n >= 1024 && unit < units.count - 1 {
        n /= 1024
        unit += 1
    }
    return fixed2(n) + units[unit]
}

/// --stat: a line of rolling figures per second (-i), a header every 20 lines.
@MainActor func statMode() -> Never {
    var lines = 0
    var lastRequests: Int64 = 0
    let interval = options.interval > 0 ? options.interval : 1
    while true {
        connection.send([Array("INFO".utf8)])
        guard case .string(let text) = connection.reply() else { fail("ERROR: INFO failed") }
        var fields: [String: String] = [:]
        for line in String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        func long(_ name: String) -> Int64 { Int64(fields[name] ?? "") ?? 0 }
        var out = ""
        if lines % 20 == 0 {
            out += "------- data ------ --------------------- load -------------------- - child -\n"
            out += "keys       mem      clients blocked requests            connections          \n"
        }
        lines += 1
        var keys: Int64 = 0
        for db in 0..<20 {
            guard let value = fields["db\(db)"], value.hasPrefix("keys=") else { continue }
            keys += Int64(value.dropFirst(5).prefix { $0 != "," }) ?? 0
        }
        out += padded(String(keys), 11, left: true)
        out += padded(humanBytes(long("used_memory")), 8, left: true)
        out += " " + padded(String(long("connected_clients")), 8, left: true)
        out += padded(String(long("blocked_clients")), 8, left: true)
        let requests = long("total_commands_processed")
        out += padded("\(requests) (+\(lastRequests == 0 ? 0 : requests - lastRequests))", 19, left: true)
        lastRequests = requests
        out += " " + padded(String(long("total_connections_received")), 12, left: true)
        let children = long("rdb_bgsave_in_progress") | long("aof_rewrite_in_progress") << 1 | long("loading") << 2
        switch children {
        case 1: out += "SAVE"
        case 2: out += "AOF"
        case 3: out += "SAVE+AOF"
        case 4: out += "LOAD"
        default: break
        }
        writeOut(1, out + "\n")
        usleep(UInt32(interval * 1_000_000))
    }
}

/// --rdb <file>: a snapshot of the server's dataset, fetched as redis-cli fetches it
/// (REPLCONF capa eof, REPLCONF rdb-only 1, SYNC), with its messages on standard error.
@MainActor func rdbMode(path: String) -> Never {
    for (option, value) in [("capa", "eof"), ("rdb-only", "1")] {
        writeOut(2, "sending REPLCONF \(option) \(value)\n")
        connection.send([Array("REPLCONF".utf8), Array(option.utf8), Array(value.utf8)])
        if case .error(let e) = connection.reply() {
            writeOut(2, "REPLCONF \(option) error: " + String(decoding: e, as: UTF8.self) + "\n")
        }
    }
    connection.send([Array("SYNC".utf8)])
    var header = connection.line()
    while header.isEmpty { header = connection.line() }  // keep-alive newlines come first
    guard header.first == UInt8(ascii: "$") else {
        writeOut(2, "SYNC with master failed: " + String(decoding: header, as: UTF8.self) + "\n")
        exit(1)
    }
    guard let file = fopen(path, "wb") else {
        writeOut(2, "Error opening '\(path)': \(String(cString: strerror(errno)))\n")
        exit(1)
    }
    var payload: [UInt8] = []
    let text = String(decoding: header.dropFirst(), as: UTF8.self)
    if text.hasPrefix("EOF:") {
        let mark = Array(header.dropFirst(5))
        writeOut(2, "SYNC sent to master, writing bytes of bulk transfer until EOF marker to '\(path)'\n")
        while payload.count < mark.count || !payload.suffix(mark.count).elementsEqual(mark) {
            payload.append(connection.byte())
        }
        payload.removeLast(mark.count)
    } else {
        let length = Int(text) ?? 0
        writeOut(2, "SYNC sent to master, writing \(length) bytes to '\(path)'\n")
        for _ in 0..<length { payload.append(connection.byte()) }
    }
    _ = payload.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    writeOut(
        2,
        text.hasPrefix("EOF:")
            ? "Transfer finished with success after \(payload.count) bytes\n" : "Transfer finished with success.\n")
    exit(0)
}
