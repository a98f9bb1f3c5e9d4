import Testing

@testable import Commands
@testable import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// docs/COMPATIBILITY.md and docs/CONFIG.md are generated from the command and directive
/// tables; this regenerates them and fails when the committed files differ. `make docs`
/// (UPDATE_DOCS=1) writes them instead.
@Suite struct ReferenceDocsTests {
    static let root: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/CommandsTests/ReferenceDocsTests.swift
        return parts.joined(separator: "/")
    }()

    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func write(_ path: String, _ text: String) {
        guard let file = fopen(path, "wb") else { return }
        defer { fclose(file) }
        let bytes = Array(text.utf8)
        _ = fwrite(bytes, 1, bytes.count, file)
    }

    @Test(arguments: ["COMPATIBILITY.md", "CONFIG.md"])
    func generatedPageIsCurrent(_ name: String) {
        let text = name == "CONFIG.md" ? ReferenceDocs.configuration() : ReferenceDocs.compatibility()
        let path = Self.root + "/docs/" + name
        if getenv("UPDATE_DOCS") != nil { Self.write(path, text) }
        #expect(Self.read(path) == text, "docs/\(name) is out of date: run `make docs`")
    }

    @Test func compatibilityPageCoversTheTable() {
        let page = ReferenceDocs.compatibility()
        #expect(page.contains("| `GET` | 1.0.0 | yes |"))
        #expect(page.contains("| `HEXPIRE` | 7.4.0 | yes |"))
        #expect(page.contains("| `CLUSTER INFO` |"))
        #expect(page.contains("| `CLUSTER MYSHARDID` | 7.2.0 | yes"))
        #expect(page.contains("| `WAITAOF` | 7.2.0 |"))
        let config = ReferenceDocs.configuration()
        #expect(config.contains("| `maxmemory-policy` | "))
        #expect(config.contains("`slave-priority`"))
    }
}
