import CSupport
import DataStore
import Glibc
import RESP
import ServerConfig

/// Process memory figures for INFO and MEMORY.
public enum MemoryInfo {
    /// Bytes the allocator has handed out (glibc's in-use total).
    public static func usedMemory() -> Int {
        Int(swiftlet_allocated_bytes())
    }

    /// Resident set size from /proc/self/statm.
    public static func residentMemory() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0
        var resident = 0
        withUnsafeMutablePointer(to: &size) { s in
            withUnsafeMutablePointer(to: &resident) { r in
                _ = withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
            }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    public static func fragmentation() -> Double {
        let used = usedMemory()
        return used > 0 ? Double(residentMemory()) / Double(used) : 1
    }

    public static func totalSystemMemory() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
