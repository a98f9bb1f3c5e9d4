import ServerConfig

/// Configuration text as a redis.conf file gives it, and the same lines as a command
/// line's arguments.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // No includes or directory changes: they reach the file system, not the parser.
    if text.lowercased().contains("include") || text.lowercased().contains("dir") { return 0 }
    _ = try? Config().apply(text: text)
    let arguments = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    if let options = try? startupOptions(from: ["--port", "7000"] + arguments) {
        _ = try? Config().apply(text: options.text)
    }
    return 0
}
