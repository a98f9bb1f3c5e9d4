/// The script engine as the core sees it: the Scripting module implements it (Lua, over
/// CScripting), the core asks it what INFO, the dispatcher, snapshots and the runtime need.
public protocol ScriptRuntime: AnyObject {
    /// Bytes the engine holds (INFO used_memory_lua).
    var memory: Int { get }
    /// Scripts cached by EVAL/SCRIPT LOAD, and their bodies' bytes.
    var cachedScripts: Int { get }
    var cachedScriptBytes: Int { get }
    /// Every function library's code, by name (RDB files, FUNCTION DUMP).
    var libraryCodes: [[UInt8]] { get }
    /// Whether a suspended script is a function (FUNCTION KILL's BUSY text); nil when none is.
    var suspendedIsFunction: Bool? { get }
    /// A cached script's body by its SHA1 (lowercase), for its shebang flags.
    func scriptBody(sha: String) -> [UInt8]?
    /// Whether a function declares `no-writes`; nil when there is no such function.
    func functionDeclaresNoWrites(_ name: String) -> Bool?
    /// The client whose script or function is running.
    var callerSession: ClientSession? { get }
    /// Continues the suspended script for a slice: when it ended, the caller's id and its
    /// reply (an error counted in INFO errorstats unless the engine counted it).
    func resumeSuspended() -> (callerID: Int64, reply: [UInt8])?
    /// Loads a library read from a file, replacing one of the same name unless `replace`
    /// is false: nil when it loaded, else why not ("" when there is nothing to add).
    func loadLibrary(fromFile code: [UInt8], replace: Bool) -> String?
    /// FUNCTION FLUSH, DEBUG RELOAD and a FLUSH-policy RESTORE drop every library.
    func removeAllLibraries()
}

extension ServerState {
    /// Continues the suspended script for a slice; when it ended, the caller's id and the
    /// reply to give it.
    public func resumeSuspendedScript() -> (callerID: Int64, reply: [UInt8])? {
        guard let engine = scriptEngine, let ended = engine.resumeSuspended() else { return nil }
        propagation.endTransaction()
        return ended
    }

    /// A library read from an RDB file: loaded, replacing one of the same name (unless
    /// `replace` is false: then that is a failure); false when it failed.
    @discardableResult
    public func loadFunctionLibrary(_ code: [UInt8], replace: Bool = true) -> Bool {
        guard let engine = scriptRuntime else { return false }
        guard let failure = engine.loadLibrary(fromFile: code, replace: replace) else { return true }
        persistenceLog?("Failed loading a function library from the RDB file" + (failure.isEmpty ? "" : ": " + failure))
        return false
    }
}
