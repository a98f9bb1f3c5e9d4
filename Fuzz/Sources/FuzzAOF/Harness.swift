import Persistence

/// An AOF file's commands read to their end (Redis's loadSingleAppendOnlyFile), and the
/// same bytes as a manifest.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAOF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var scanner = AOFCommandScanner(bytes)
    scan: while true {
        switch scanner.next() {
        case .command(let args): precondition(!args.isEmpty)
        case .truncated, .bad, .end: break scan
        }
    }
    precondition(scanner.validUpTo <= size)
    _ = try? AOFManifest.parse(bytes)
    return 0
}
