#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed file operation: the errno it ended with, and Redis's wording of it.
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The error of the call that just failed.
    public static var current: FileError { FileError(errno) }

    /// strerror's text ("No space left on device"), as Redis logs and replies it.
    public var description: String { String(cString: strerror(code)) }
}

/// The file side of a snapshot, as Redis does it: written under a temporary name, fsynced,
/// renamed over the real one, and the directory fsynced — a crash at any point leaves the
/// previous file whole.
public enum SnapshotFile {
    /// Completes a snapshot written to `fd` (named `tempName`), or throws the error of the
    /// step that failed (`writeFailure`, the errno a streaming writer kept, when writing
    /// already had), the temporary file removed. Touches only the file system, so it may
    /// run on any thread.
    public static func commit(
        fd: Int32, tempName: String, target: String, directory: String = ".", writeFailure: Int32
    ) throws(FileError) {
        var failure = writeFailure
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(tempName, target) != 0 { failure = errno }
        if failure != 0 {
            unlink(tempName)
            throw FileError(failure)
        }
        syncDirectory(directory)
    }

    /// A whole file's bytes; nil when it cannot be opened.
    public static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return data
    }
}
