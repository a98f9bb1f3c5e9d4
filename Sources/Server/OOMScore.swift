#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `oom-score-adj` and `oom-score-adj-values` (Redis's setOOMScoreAdj): the kernel's
/// oom_score_adj of the process is set from the value of its class — primary, or replica
/// while it follows one (there is no background child) — relative to the score the process had before (`yes`, `relative`)
/// or as given (`absolute`), clamped to -1000…1000; turned off, the earlier score is put
/// back. The values alone never touch the score while adjustment is off.
extension ServerState {
    static let oomScorePath = "/proc/self/oom_score_adj"

    /// Applies the configuration; nil, or Redis's error text when the score could not be
    /// read or written.
    public func applyOOMScoreAdjustment() -> String? {
        let failure = "Failed to set current oom_score_adj. Check server logs."
        let mode = config["oom-score-adj"]
        let score: Int
        if mode != "no" {
            if oomScoreBase == nil {
                guard let text = Self.readOOMScore() else {
                    persistenceLog?("Unable to read oom_score_adj: \(String(cString: strerror(errno)))")
                    return failure
                }
                oomScoreBase = text
            }
            let values = config["oom-score-adj-values"].split(separator: " ").compactMap { Int($0) }
            let processClass = primaryLink == nil ? 0 : 1
            guard values.count == 3 else { return failure }
            score = min(1000, max(-1000, values[processClass] + (mode == "absolute" ? 0 : oomScoreBase ?? 0)))
        } else if let base = oomScoreBase {
            oomScoreBase = nil
            score = base
        } else {
            return nil
        }
        guard Self.writeOOMScore(score) else {
            persistenceLog?("Unable to write oom_score_adj: \(String(cString: strerror(errno)))")
            return failure
        }
        return nil
    }

    static func readOOMScore() -> Int? {
        let fd = open(oomScorePath, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? ""
        return Int(text.trimmingPrefix(" ")) ?? 0
    }

    static func writeOOMScore(_ score: Int) -> Bool {
        let fd = open(oomScorePath, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array("\(score)\n".utf8)
        return write(fd, bytes, bytes.count) == bytes.count
    }
}
