import Commands

@testable import Server

/// ACL SETUSER rules (and ACL file lines) on a fresh user: any bytes, split at spaces as
/// the command's arguments are. The result is described back (ACL GETUSER / LIST).
nonisolated(unsafe) let table = CommandTable.standard()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzACL(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let rules = bytes.split(separator: UInt8(ascii: " ")).map(Array.init)
    let acl = AccessControl(table: table)
    if acl.setUser("fuzz", rules: rules, allChannelsByDefault: false) == nil, let user = acl.user(named: "fuzz") {
        _ = user.describe(table)
    }
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    _ = acl.parseUsers(lines: lines, fileName: "fuzz.acl", allChannelsByDefault: false)
    return 0
}
