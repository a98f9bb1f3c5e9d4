import DataStore
import Persistence

/// An RDB file's bytes loaded into a keyspace, all at once and in steps, as the server
/// loads at start and a replica loads its primary's snapshot.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRDB(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var whole = RDBReader(bytes)
    _ = try? whole.load(into: Keyspace(databases: 16), now: 0)
    var stepped = RDBReader(bytes)
    let keyspace = Keyspace(databases: 16)
    for _ in 0..<64 {
        guard let done = try? stepped.step(into: keyspace, now: 0, limits: LoadLimits(), maxKeys: 4), !done else {
            break
        }
    }
    return 0
}
