/// What the server does with a client session beyond its fields: CLIENT LIST's line for it,
/// closing it.
extension ClientSession {
    /// One CLIENT LIST / CLIENT INFO line, with Redis 7.4's fields. `runningArgv` is the
    /// argument bytes and count of the command the client is running, when it is the one
    /// asking: Redis shows them in its argv-mem and tot-mem.
    public func infoLine(now: Int64, runningArgv: (bytes: Int, count: Int) = (0, 0)) -> String {
        let c = self
        var flags = ""
        if c.isReplica { flags += "S" }
        if c.isPrimaryClient { flags += "M" }
        if c.isMonitor { flags += "O" }
        if c.inPubSubMode { flags += "P" }
        if c.inMulti { flags += "x" }
        if c.isBlocked { flags += "b" }
        if c.watchDirty { flags += "d" }
        if c.closeAfterReply { flags += "c" }
        if c.isUnixSocket { flags += "U" }
        if c.noEvict { flags += "e" }
        if c.noTouch { flags += "T" }
        if flags.isEmpty { flags = "N" }
        let name = String(decoding: c.name, as: UTF8.self)
        let age = (now - c.createdAt) / 1000
        let idle = (now - c.lastInteraction) / 1000
        return "id=\(c.id) addr=\(c.address) laddr=\(c.localAddress) fd=\(c.fd) name=\(name) age=\(age) idle=\(idle) "
            + "flags=\(flags) db=\(c.db) sub=\(c.channels.count) psub=\(c.patterns.count) ssub=\(c.shardChannels.count) multi=\(c.inMulti ? c.multiQueue.count : -1) watch=\(c.watched.count) qbuf=\(c.queryBufferLength) "
            + "qbuf-free=\(max(0, 16384 - c.queryBufferLength)) argv-mem=\(c.queryArgumentBytes + runningArgv.bytes) multi-mem=\(c.multiMemory) rbs=\(c.replyBufferSize) rbp=\(c.replyBufferPeak) "
            + "obl=\(c.outputBufferLength) oll=0 omem=\(c.pendingOutputBytes) tot-mem=\(c.totalMemory + runningArgv.bytes + 8 * runningArgv.count) "
            + "events=r cmd=\(c.lastCommand) user=\(c.user) redir=-1 resp=\(c.protocolVersion) "
            + "lib-name=\(c.libName) lib-ver=\(c.libVersion)"
    }

    /// Closes the client: after its reply when it is `caller`, the client running the
    /// command (CLIENT KILL of itself, ACL changes that drop its user).
    public func close(caller: ClientSession?) {
        if self === caller {
            closeAfterReply = true
        } else {
            closeHook?()
        }
    }
}
