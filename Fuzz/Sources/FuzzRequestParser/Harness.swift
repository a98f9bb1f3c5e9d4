import RESP

/// The request parser over any bytes, as a connection's reads give them: whole, then cut
/// at every eighth byte into a pipeline of reads (the parser resumes on partial input).
/// Whatever it accepts must lie inside the batch it filled.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for authenticated in [true, false] {
        var parser = RequestParser()
        parser.authenticated = authenticated
        parser.maxBulkLength = 1 << 20
        var batch = CommandBatch()
        var start = 0
        var end = min(size, max(1, size / 8))
        while start < size {
            let result = parser.parse(UnsafeRawBufferPointer(rebasing: input[start..<end]), into: &batch)
            precondition(result.consumed <= end - start)
            for i in 0..<batch.count {
                for span in batch.arguments(of: i) {
                    precondition(batch.spans[span].upperBound <= batch.bytes.count)
                    _ = batch.argument(span)
                }
            }
            if result.error != nil { break }
            batch.removeAll()
            start += result.consumed
            if end == size && result.consumed == 0 { break }
            end = min(size, end + max(1, size / 8))
        }
    }
    _ = splitArgs(input)
    return 0
}
