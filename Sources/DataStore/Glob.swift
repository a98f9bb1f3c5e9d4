/// Redis's stringmatchlen: glob-style matching with `*`, `?`, `[...]` (ranges, `^`
/// negation), and `\` escapes, over bytes.
public func globMatch(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer, nocase: Bool = false) -> Bool
{
    var skipLongerMatches = false
    return globMatchImpl(pattern, 0, string, 0, nocase, &skipLongerMatches, 0)
}

public func globMatch(_ pattern: [UInt8], _ string: [UInt8], nocase: Bool = false) -> Bool {
    pattern.withUnsafeBytes { p in string.withUnsafeBytes { s in globMatch(p, s, nocase: nocase) } }
}

@inline(__always)
private func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }

private func globMatchImpl(
    _ p: UnsafeRawBufferPointer, _ pStart: Int, _ s: UnsafeRawBufferPointer, _ sStart: Int, _ nocase: Bool,
    _ skipLongerMatches: inout Bool, _ nesting: Int
) -> Bool {
    // Protects against abusive patterns, as Redis does.
    if nesting > 1000 { return false }
    var pi = pStart
    var si = sStart
    let plen = p.count
    let slen = s.count
    while pi < plen && si < slen {
        switch p[pi] {
        case UInt8(ascii: "*"):
            while pi + 1 < plen && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
            if pi + 1 == plen { return true }
            while si < slen {
                if globMatchImpl(p, pi + 1, s, si, nocase, &skipLongerMatches, nesting + 1) { return true }
                if skipLongerMatches { return false }
                si += 1
            }
            skipLongerMatches = true
            return false
        case UInt8(ascii: "?"):
            si += 1
        case UInt8(ascii: "["):
            pi += 1
            let not = pi < plen && p[pi] == UInt8(ascii: "^")
            if not { pi += 1 }
            var match = false
            while true {
                if pi >= plen {
                    pi -= 1
                    break
                }
                if p[pi] == UInt8(ascii: "\\") && pi + 2 <= plen - 1 + 1 && pi + 1 < plen {
                    pi += 1
                    if p[pi] == s[si] { match = true }
                } else if p[pi] == UInt8(ascii: "]") {
                    break
                } else if pi + 2 < plen && p[pi + 1] == UInt8(ascii: "-") {
                    var start = p[pi]
                    var end = p[pi + 2]
                    var c = s[si]
                    if start > end { swap(&start, &end) }
                    if nocase {
                        start = lower(start)
                        end = lower(end)
                        c = lower(c)
                    }
                    pi += 2
                    if c >= start && c <= end { match = true }
                } else {
                    if nocase {
                        if lower(p[pi]) == lower(s[si]) { match = true }
                    } else if p[pi] == s[si] {
                        match = true
                    }
                }
                pi += 1
            }
            if not { match = !match }
            if !match { return false }
            si += 1
        case UInt8(ascii: "\\"):
            if pi + 1 < plen { pi += 1 }
            fallthrough
        default:
            if nocase {
                if lower(p[pi]) != lower(s[si]) { return false }
            } else if p[pi] != s[si] {
                return false
            }
            si += 1
        }
        pi += 1
        if si == slen {
            while pi < plen && p[pi] == UInt8(ascii: "*") { pi += 1 }
            break
        }
    }
    return pi == plen && si == slen
}
