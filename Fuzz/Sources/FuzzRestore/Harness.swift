import Persistence

/// RESTORE's payload (a DUMP: one value, its RDB version and CRC64), checked and decoded;
/// and FUNCTION RESTORE's.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRestore(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = RDBReader.restorePayload(bytes)
    // Past the checksum (DEBUG SET-SKIP-CHECKSUM-VALIDATION), to the decoders themselves.
    _ = RDBReader.restorePayload(bytes, verifyChecksum: false)
    _ = RDBReader.functionsPayload(bytes)
    return 0
}
