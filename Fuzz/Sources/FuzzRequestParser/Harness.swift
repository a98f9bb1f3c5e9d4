import RESP

/// The request parser over any bytes, as a connection's reads give them: whole, then cut
/// into a pipeline of reads of an eighth, then of 7 bytes (the parser resumes on partial
/// input, keeping what it parsed of a long command). Whatever it accepts must lie inside
/// the batch it filled, and the cut reads must give the commands the whole input gives.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for authenticated in [true, false] {
        let whole = commands(input, authenticated: authenticated, step: size)
        for step in [max(1, size / 8), 7] {
            let cut = commands(input, authenticated: authenticated, step: step)
            // Up to the first error both see the same commands.
            precondition(cut.commands == whole.commands || whole.failed || cut.failed)
            let common = min(cut.commands.count, whole.commands.count)
            precondition(Array(cut.commands.prefix(common)) == Array(whole.commands.prefix(common)))
        }
    }
    _ = splitArgs(input)
    return 0
}

/// Every command parsed from `input` read `step` bytes at a time, and whether a protocol
/// error ended it.
func commands(_ input: UnsafeRawBufferPointer, authenticated: Bool, step: Int) -> (commands: [[[UInt8]]], failed: Bool)
{
    let size = input.count
    var parser = RequestParser()
    parser.authenticated = authenticated
    parser.maxBulkLength = 1 << 20
    var batch = CommandBatch()
    var out: [[[UInt8]]] = []
    var start = 0
    var end = min(size, step)
    while start < size {
        let result = parser.parse(UnsafeRawBufferPointer(rebasing: input[start..<end]), into: &batch)
        precondition(result.consumed <= end - start)
        for i in 0..<batch.count {
            var command: [[UInt8]] = []
            for span in batch.arguments(of: i) {
                precondition(batch.spans[span].upperBound <= batch.bytes.count)
                command.append(Array(batch.argument(span)))
            }
            out.append(command)
        }
        if result.error != nil { return (out, true) }
        batch.removeAll()
        start += result.consumed
        if end == size && result.consumed == 0 { break }
        end = min(size, end + step)
    }
    return (out, false)
}
