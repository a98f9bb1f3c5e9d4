// The interactive prompt's line editing (what linenoise gives redis-cli): cursor keys,
// history (~/.rediscli_history, or $REDISCLI_HISTFILE), Tab completion of command names and
// a grey hint with the arguments still to type (from COMMAND DOCS).

import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@MainActor final class LineEditor {
    var history: [String] = []
    let historyPath: String?
    var hints = true

    init() {
        if let env = getenv("REDISCLI_HISTFILE") {
            let path = String(cString: env)
            historyPath = path.isEmpty || path == "/dev/null" ? nil : path
        } else if let home = getenv("HOME") {
            historyPath = String(cString: home) + "/.rediscli_history"
        } else {
            historyPath = nil
        }
        if let historyPath, let file = fopen(historyPath, "r") {
            var line: UnsafeMutablePointer<CChar>? = nil
            var capacity = 0
            while getline(&line, &capacity, file) > 0 {
                var text = String(cString: line!)
                if text.hasSuffix("\n") { text.removeLast() }
                if !text.isEmpty { history.append(text) }
            }
            free(line)
            fclose(file)
        }
    }

    func remember(_ line: String) {
        guard !line.isEmpty, history.last != line else { return }
        history.append(line)
        if history.count > 100 { history.removeFirst(history.count - 100) }
        guard let historyPath, let file = fopen(historyPath, "a") else { return }
        fputs(line + "\n", file)
        fclose(file)
    }

    /// The grey hint after what was typed, as redis-cli 7.0 draws it: the syntax of the
    /// longest command name the line starts with, less one leading argument per argument
    /// already typed (up to the first optional one), with a space in front when the line
    /// doesn't end in one.
    func hint(for line: String) -> String {
        guard hints, let typed = splitArgs(line), !typed.isEmpty else { return "" }
        let words = typed.map { String(decoding: $0, as: UTF8.self).lowercased() }
        var best: HelpEntry?
        for e in helpEntries() where e.words.count <= words.count && e.words.count > (best?.words.count ?? 0) {
            if Array(words[..<e.words.count]) == e.words { best = e }
        }
        guard let best else { return "" }
        var hint = Substring(best.params)
        var toRemove = words.count - best.words.count
        while toRemove > 0, let first = hint.first, first != "[" {
            if first == " " { toRemove -= 1 }
            hint.removeFirst()
        }
        return line.last.map { $0 == " " || $0 == "\t" } == true ? String(hint) : " " + hint
    }

    func completions(for line: String) -> [String] {
        let lower = line.lowercased()
        if lower.hasPrefix("help ") {
            let rest = String(lower.dropFirst(5))
            return helpEntries().map { "help " + $0.name.lowercased() }.filter { $0.hasPrefix("help " + rest) }
        }
        guard !line.contains(" ") else { return [] }
        var names: [String] = []
        for e in helpEntries() where e.words.count == 1 && e.words[0].hasPrefix(lower) {
            names.append(line.isEmpty || line.first!.isUppercase ? e.name : e.name.lowercased())
        }
        return names
    }

    /// The terminal's width (80 when it can't be told, as linenoise assumes).
    func columns() -> Int {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// Reads one line in raw mode; nil at end of input (Ctrl-D on an empty line).
    func read(prompt: String) -> String? {
        var saved = termios()
        guard tcgetattr(0, &saved) == 0 else {
            return readLine(prompt: prompt).map { String(decoding: $0, as: UTF8.self) }
        }
        var rawMode = saved
        rawMode.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        rawMode.c_iflag &= ~tcflag_t(IXON | ICRNL)
        tcsetattr(0, TCSAFLUSH, &rawMode)
        defer { tcsetattr(0, TCSAFLUSH, &saved) }
        var buffer: [Character] = []
        var cursor = 0
        var historyIndex = history.count
        var completionIndex = -1
        var completionBase = ""
        func refresh() {
            let line = String(buffer)
            var out = "\r" + prompt + line
            // As linenoise: no hint once the line fills the terminal, and a hint cut to
            // what still fits.
            let room = columns() - prompt.count - buffer.count
            let h = room > 0 ? String(hint(for: line).prefix(room)) : ""
            if !h.isEmpty { out += "\u{1b}[90m" + h + "\u{1b}[0m" }
            out += "\u{1b}[0K"
            let back = (buffer.count - cursor) + h.count
            if back > 0 { out += "\u{1b}[\(back)D" }
            writeOut(1, out)
        }
        refresh()
        while true {
            var c: UInt8 = 0
            if Glibc.read(0, &c, 1) <= 0 { return nil }
            if c != 9 { completionIndex = -1 }
            switch c {
            case 13, 10:  // Enter: the hint goes away, the line stays.
                writeOut(1, "\r" + prompt + String(buffer) + "\u{1b}[0K\n")
                return String(buffer)
            case 3:  // Ctrl-C
                writeOut(1, "^C\n")
                return nil
            case 4:  // Ctrl-D
                if buffer.isEmpty {
                    writeOut(1, "\n")
                    return nil
                }
                if cursor < buffer.count { buffer.remove(at: cursor) }
            case 127, 8:
                if cursor > 0 {
                    buffer.remove(at: cursor - 1)
                    cursor -= 1
                }
            case 1: cursor = 0
            case 5: cursor = buffer.count
            case 11: buffer.removeSubrange(cursor...)
            case 21:
                buffer.removeSubrange(..<cursor)
                cursor = 0
            case 12: writeOut(1, "\u{1b}[H\u{1b}[2J")
            case 9:  // Tab: cycle through the completions.
                if completionIndex < 0 { completionBase = String(buffer) }
                let options = completions(for: completionBase)
                if options.isEmpty {
                    writeOut(1, "\u{7}")
                } else {
                    completionIndex = (completionIndex + 1) % options.count
                    buffer = Array(options[completionIndex])
                    cursor = buffer.count
                }
            case 27:
                var seq: [UInt8] = [0, 0]
                if Glibc.read(0, &seq[0], 1) <= 0 || Glibc.read(0, &seq[1], 1) <= 0 { continue }
                guard seq[0] == UInt8(ascii: "[") || seq[0] == UInt8(ascii: "O") else { continue }
                switch seq[1] {
                case UInt8(ascii: "A"):
                    if historyIndex > 0 {
                        historyIndex -= 1
                        buffer = Array(history[historyIndex])
                        cursor = buffer.count
                    }
                case UInt8(ascii: "B"):
                    if historyIndex < history.count {
                        historyIndex += 1
                        buffer = historyIndex < history.count ? Array(history[historyIndex]) : []
                        cursor = buffer.count
                    }
                case UInt8(ascii: "C"): cursor = min(buffer.count, cursor + 1)
                case UInt8(ascii: "D"): cursor = max(0, cursor - 1)
                case UInt8(ascii: "H"): cursor = 0
                case UInt8(ascii: "F"): cursor = buffer.count
                case UInt8(ascii: "3"):
                    var tilde: UInt8 = 0
                    _ = Glibc.read(0, &tilde, 1)
                    if cursor < buffer.count { buffer.remove(at: cursor) }
                default: break
                }
            default:
                if c >= 32 {
                    // UTF-8: the rest of a multi-byte character follows.
                    var bytes = [c]
                    let extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0
                    for _ in 0..<extra {
                        var next: UInt8 = 0
                        if Glibc.read(0, &next, 1) > 0 { bytes.append(next) }
                    }
                    for ch in String(decoding: bytes, as: UTF8.self) {
                        buffer.insert(ch, at: cursor)
                        cursor += 1
                    }
                }
            }
            refresh()
        }
    }
}
