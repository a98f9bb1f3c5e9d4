import DataStore
import Glibc
import RESP

extension CommandContext {
    /// Queues the current command for EXEC (the caller has checked it may be queued).
    func queueForMulti(_ command: Command) {
        let s = session
        let base = argBase
        let count = argc
        s.multiQueue.commandStarts.append(s.multiQueue.spans.count)
        batch.bytes.withUnsafeBufferPointer { source in
            batch.spans.withUnsafeBufferPointer { spans in
                for i in 0..<count {
                    let span = spans[base + i]
                    let start = s.multiQueue.bytes.count
                    s.multiQueue.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[span]))
                    s.multiQueue.spans.append(start..<(start + span.count))
                }
            }
        }
        s.multiCommands.append(command.parent ?? command)
        if command.flags.contains(.write) { s.multiWrites = true }
        if command.flags.contains(.write)
            || (command.flags.contains(.mayReplicate) && !scriptDeclaresNoWrites(command))
        {
            s.multiMayReplicate = true
        }
        if command.flags.contains(.denyoom) { s.multiDenyOOM = true }
        if !command.flags.contains(.stale) { s.multiNeedsFreshData = true }
    }

    /// An array header written ahead of replies that are emitted one by one (EXEC).
    public func emitArrayHeader(_ n: Int) {
        guard session.replyMode == .on else { return }
        output.append(UInt8(ascii: "*"))
        ReplyEncoder.appendInteger(Int64(n), to: &output)
        output.append(13)
        output.append(10)
    }
}
