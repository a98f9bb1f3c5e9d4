/// A command's failure, carrying Redis's exact error text with its prefix. This file is
/// the one catalogue of error texts: handlers throw these, never literals of their own.
public struct CommandError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }

    /// The error code INFO errorstats counts it under (`ERR`, `WRONGTYPE`, …).
    public var code: Substring { message.split(separator: " ", maxSplits: 1).first ?? "ERR" }
}

extension CommandError {
    public static let syntax = CommandError("ERR syntax error")
    public static let notInteger = CommandError("ERR value is not an integer or out of range")
    public static let notFloat = CommandError("ERR value is not a valid float")
    public static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    public static let noSuchKey = CommandError("ERR no such key")
    public static let overflow = CommandError("ERR increment or decrement would overflow")
    public static let nanOrInfinity = CommandError("ERR increment would produce NaN or Infinity")
    public static let noAuth = CommandError("NOAUTH Authentication required.")
    public static let wrongPass = CommandError("WRONGPASS invalid username-password pair or user is disabled.")
    public static let authWithoutPassword = CommandError(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    )
    public static let dbIndexOutOfRange = CommandError("ERR DB index is out of range")
    public static let invalidDBIndex = CommandError("ERR invalid DB index")
    public static let sameObject = CommandError("ERR source and destination objects are the same")
    public static let stringTooLong = CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    public static let bitOffset = CommandError("ERR bit offset is not an integer or out of range")
    public static let bitValue = CommandError("ERR bit is not an integer or out of range")
    public static let offsetOutOfRange = CommandError("ERR offset is out of range")
    public static let noProto = CommandError("NOPROTO unsupported protocol version")
    public static let timeoutNotFloat = CommandError("ERR timeout is not a float or out of range")
    public static let timeoutNegative = CommandError("ERR timeout is negative")
    public static let timeoutOutOfRange = CommandError("ERR timeout is out of range")
    public static let invalidCursor = CommandError("ERR invalid cursor")
    public static let noSuchClient = CommandError("ERR No such client")
    public static let clientNameSpaces = CommandError(
        "ERR Client names cannot contain spaces, newlines or special characters.")
    public static let lfuNotSelected = CommandError(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    )
    public static let lruNotSelected = CommandError(
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    )
    public static let loading = CommandError("LOADING Redis is loading the dataset in memory")
    public static let oom = CommandError("OOM command not allowed when used memory > 'maxmemory'.")
    public static let noConfigFile = CommandError("ERR The server is running without a config file")
    public static let bitfieldOverflowType = CommandError(
        "ERR Invalid OVERFLOW type specified")
    public static let bitfieldType = CommandError(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    public static let bitfieldReadOnly = CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    public static let bitopNotArity = CommandError("ERR BITOP NOT must be called with a single source key.")
    public static let bitposBitArg = CommandError("ERR The bit argument must be 1 or 0.")
    public static let lcsLenAndIdx = CommandError(
        "ERR If you want both the length and indexes, please just use IDX.")
    public static let lcsTooLong = CommandError("ERR String too long for LCS")
    public static let msetArity = CommandError("ERR wrong number of arguments for 'mset' command")
    public static let unblockReason = CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    public static let numKeysNotPositive = CommandError("ERR numkeys should be greater than 0")
    public static let getexOptions = CommandError("ERR syntax error")
    public static func debugUnknown(_ sub: String) -> CommandError {
        CommandError("ERR unknown subcommand or wrong number of arguments for '\(sub)'. Try DEBUG HELP.")
    }
    public static let noPermission = CommandError("NOPERM this user has no permissions to run this command")
    public static let helloAuthMissing = CommandError("ERR Syntax error in HELLO option 'AUTH'")

    public static func unrecognizedOption(_ name: String) -> CommandError {
        CommandError("ERR Unrecognized option '\(name)'")
    }
    public static func attributeSpaces(_ name: String) -> CommandError {
        CommandError("ERR \(name) cannot contain spaces, newlines or special characters.")
    }
    public static func unknownClientType(_ name: String) -> CommandError {
        CommandError("ERR Unknown client type '\(name)'")
    }
    public static let invalidClientID = CommandError("ERR Invalid client ID")
    public static let clientIDNotPositive = CommandError("ERR client-id should be greater than 0")
    public static let timeoutNotInteger = CommandError("ERR timeout is not an integer or out of range")
    public static let pauseMode = CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    public static let decrementOverflow = CommandError("ERR decrement would overflow")
    public static let lcsWrongType = CommandError("WRONGTYPE The specified keys must contain string values")
    public static let protocolVersionNotInteger = CommandError("ERR Protocol version is not an integer or out of range")
    public static func helloOption(_ option: String) -> CommandError {
        CommandError("ERR Syntax error in HELLO option '\(option)'")
    }
    public static func rewriteFailed(_ reason: String) -> CommandError {
        CommandError("ERR Rewriting config file: \(reason)")
    }
    public static let getkeysInvalidCommand = CommandError("ERR Invalid command specified")
    public static let getkeysArity = CommandError("ERR Invalid number of arguments specified for command")
    public static let getkeysNoKeys = CommandError("ERR The command has no key arguments")
    public static let getkeysBadArguments = CommandError("ERR Invalid arguments specified for command")
    public static let noShutdownInProgress = CommandError("ERR No shutdown in progress.")
    public static func unsupportedOption(_ option: String) -> CommandError {
        CommandError("ERR Unsupported option \(option)")
    }
    public static let expireNXAndOthers = CommandError(
        "ERR NX and XX, GT or LT options at the same time are not compatible")
    public static let expireGTAndLT = CommandError("ERR GT and LT options at the same time are not compatible")
    public static let invalidFirstDB = CommandError("ERR invalid first DB index")
    public static let invalidSecondDB = CommandError("ERR invalid second DB index")

    public static let mustBePositive = CommandError("ERR value is out of range, must be positive")
    public static let indexOutOfRange = CommandError("ERR index out of range")
    public static let lposRankZero = CommandError(
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    )
    public static let lposRankRange = CommandError(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    public static let lposCountNegative = CommandError("ERR COUNT can't be negative")
    public static let lposMaxlenNegative = CommandError("ERR MAXLEN can't be negative")
    public static let countNotPositive = CommandError("ERR count should be greater than 0")

    public static let hashValueNotInteger = CommandError("ERR hash value is not an integer")
    public static let hashValueNotFloat = CommandError("ERR hash value is not a float")
    public static let nanOrInfinityValue = CommandError("ERR value is NaN or Infinity")
    public static let valueOutOfRange = CommandError("ERR value is out of range")

    public static let numKeysTooMany = CommandError("ERR Number of keys can't be greater than number of args")
    public static let limitNegative = CommandError("ERR LIMIT can't be negative")

    public static let minMaxNotFloat = CommandError("ERR min or max is not a float")
    public static let lexRangeInvalid = CommandError("ERR min or max not valid string range item")
    public static let zaddNXAndXX = CommandError("ERR XX and NX options at the same time are not compatible")
    public static let zaddGTLTNX = CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    public static let zaddIncrPair = CommandError("ERR INCR option supports a single increment-element pair")
    public static let notHyperLogLog = CommandError("WRONGTYPE Key is not a valid HyperLogLog string value.")
    public static let corruptHyperLogLog = CommandError("INVALIDOBJ Corrupted HLL object detected")
    public static let pfdebugNoKey = CommandError("ERR The specified key does not exist")
    public static let pfdebugNotSparse = CommandError("ERR HLL encoding is not sparse")
    public static func pfdebugUnknown(_ sub: String) -> CommandError {
        CommandError("ERR Unknown PFDEBUG subcommand '\(sub)'")
    }

    public static let geoUnit = CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
    public static let geoMemberNotFound = CommandError("ERR could not decode requested zset member")
    public static let geoCountPositive = CommandError("ERR COUNT must be > 0")
    public static let geoRadiusNotNumeric = CommandError("ERR need numeric radius")
    public static let geoRadiusNegative = CommandError("ERR radius cannot be negative")
    public static let geoWidthNotNumeric = CommandError("ERR need numeric width")
    public static let geoHeightNotNumeric = CommandError("ERR need numeric height")
    public static let geoBoxNegative = CommandError("ERR height or width cannot be negative")
    public static let geoAnyWithoutCount = CommandError("ERR the ANY argument requires COUNT argument")
    public static func geoInvalidPosition(_ lon: String, _ lat: String) -> CommandError {
        CommandError("ERR invalid longitude,latitude pair \(lon),\(lat)")
    }
    public static func geoStoreWithOptions(_ what: String) -> CommandError {
        CommandError("ERR \(what) is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    }
    public static func geoFromMissing(_ command: String) -> CommandError {
        CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(command)")
    }
    public static func geoByMissing(_ command: String) -> CommandError {
        CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for \(command)")
    }

    public static let sortNotDouble = CommandError("ERR One or more scores can't be converted into double")
    public static let fieldsArgumentMissing = CommandError(
        "ERR Mandatory argument FIELDS is missing or not at the right position")
    public static let numFieldsNotPositive = CommandError("ERR Parameter `numFields` should be greater than 0")
    public static let numFieldsNotPositiveInteger = CommandError("ERR Number of fields must be a positive integer")
    public static let numFieldsMismatch = CommandError(
        "ERR The `numfields` parameter must match the number of arguments")
    public static let fieldExpireNegative = CommandError("ERR invalid expire time, must be >= 0")
    public static let multiNested = CommandError("ERR MULTI calls can not be nested")
    public static let execWithoutMulti = CommandError("ERR EXEC without MULTI")
    public static let discardWithoutMulti = CommandError("ERR DISCARD without MULTI")
    public static let watchInsideMulti = CommandError("ERR WATCH inside MULTI is not allowed")
    public static let noReplicas = CommandError("NOREPLICAS Not enough good replicas to write.")
    public static let readonlyReplica = CommandError("READONLY You can't write against a read only replica.")
    public static let masterDown = CommandError(
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    public static let execAbort = CommandError("EXECABORT Transaction discarded because of previous errors.")
    public static let notAllowedInMulti = CommandError("ERR Command not allowed inside a transaction")
    public static func subscribedContext(_ command: String) -> CommandError {
        CommandError(
            "ERR Can't execute '\(command)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    }
    public static let slowlogCount = CommandError("ERR count should be greater than or equal to -1")
    public static let trackingOneRedirect = CommandError("ERR A client can only redirect to a single other client")
    public static let trackingNoRedirectClient = CommandError("ERR The client ID you want redirect to does not exist")
    public static let trackingPrefixNeedsBcast = CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    public static let trackingBcastSwitch = CommandError(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    )
    public static let trackingBcastOptin = CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    public static let trackingOptinOptout = CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    public static let trackingOptSwitch = CommandError(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
    )
    public static func trackingPrefixOverlap(_ a: String, _ b: String, existing: Bool) -> CommandError {
        CommandError(
            "ERR Prefix '\(a)' overlaps with \(existing ? "an existing" : "another provided") prefix '\(b)'. Prefixes for a single client must not overlap."
        )
    }
    public static let cachingWithoutTracking = CommandError(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
    public static let cachingYesNeedsOptin = CommandError(
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    public static let cachingNoNeedsOptout = CommandError(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    public static func latencyNoSamples(_ event: String) -> CommandError {
        CommandError("ERR No samples available for event '\(event)'")
    }
    public static let saveFailed = CommandError("ERR")
    public static let backgroundSaveInProgress = CommandError("ERR Background save already in progress")
    public static func backgroundSaveStart(_ why: String) -> CommandError {
        CommandError("ERR Background save failed to start: \(why)")
    }
    public static func reloadSave(_ why: String) -> CommandError {
        CommandError("ERR Error trying to save the DB: \(why)")
    }
    public static let reloadLoad = CommandError("ERR Error trying to load the RDB dump, check server logs.")
    public static let misconf = CommandError(
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
    )
    public static func aofWriteError(_ why: String) -> CommandError {
        CommandError("MISCONF Errors writing to the AOF file: \(why)")
    }
    public static let aofRewriteInProgress = CommandError(
        "ERR Background append only file rewriting already in progress")
    public static let aofRewriteFailed = CommandError(
        "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
    public static let anotherChildActive = CommandError(
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
    )
    public static let busyKey = CommandError("BUSYKEY Target key name already exists.")
    public static let restoreTTL = CommandError("ERR Invalid TTL value, must be >= 0")
    public static let restoreIdletime = CommandError("ERR Invalid IDLETIME value, must be >= 0")
    public static let restoreFreq = CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
    public static let dumpPayload = CommandError("ERR DUMP payload version or checksum are wrong")
    public static let badDataFormat = CommandError("ERR Bad data format")
    public static let shutdownFailed = CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    public static let weightNotFloat = CommandError("ERR weight value is not a float")
    public static func atLeastOneKey(_ command: String) -> CommandError {
        CommandError("ERR at least 1 input key is needed for '\(command)' command")
    }
    public static let resultNaN = CommandError("ERR resulting score is not a number (NaN)")
    public static let zrangeLimit = CommandError(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    public static let zrangeWithscoresBylex = CommandError(
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX")

    public static let unblocked = CommandError("UNBLOCKED client unblocked via CLIENT UNBLOCK")

    public static func wrongArity(_ fullName: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(fullName)' command")
    }

    public static func invalidExpireTime(_ command: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(command)' command")
    }

    /// Redis's "unknown command" text: the name and up to 128 characters of its arguments.
    public static func unknownCommand(_ name: [UInt8], args: [[UInt8]]) -> CommandError {
        var text =
            "ERR unknown command '\(String(decoding: name.prefix(128), as: UTF8.self))', with args beginning with: "
        var used = 0
        for arg in args {
            if used >= 128 { break }
            let part = arg.prefix(128 - used)
            text += "'\(String(decoding: part, as: UTF8.self))' "
            used += part.count + 3
        }
        return CommandError(text)
    }

    public static func unknownSubcommand(_ sub: [UInt8], container: String) -> CommandError {
        CommandError(
            "ERR unknown subcommand '\(String(decoding: sub.prefix(128), as: UTF8.self))'. Try \(container.uppercased()) HELP."
        )
    }

    public static func configSet(_ message: String, directive: String?) -> CommandError {
        if let directive {
            return CommandError("ERR CONFIG SET failed (possibly related to argument '\(directive)') - \(message)")
        }
        return CommandError("ERR \(message)")
    }

    public static func generic(_ message: String) -> CommandError { CommandError("ERR " + message) }
}

// MARK: Streams

extension CommandError {
    public static let invalidStreamID = CommandError("ERR Invalid stream ID specified as stream command argument")
    public static let xaddIDTooSmall = CommandError(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    public static let xaddIDZero = CommandError("ERR The ID specified in XADD must be greater than 0-0")
    public static let streamExhausted = CommandError(
        "ERR The stream has exhausted the last possible ID, unable to add more items")
    public static let maxlenNegative = CommandError("ERR The MAXLEN argument must be >= 0.")
    public static let limitArgumentNegative = CommandError("ERR The LIMIT argument must be >= 0.")
    public static let maxlenAndMinid = CommandError(
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    public static let limitWithoutStrategy = CommandError(
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    public static let xtrimWithoutStrategy = CommandError(
        "ERR syntax error, XTRIM must be called with a trimming strategy")
    public static let limitWithoutApprox = CommandError(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    public static let invalidStartInterval = CommandError("ERR invalid start ID for the interval")
    public static let invalidEndInterval = CommandError("ERR invalid end ID for the interval")
    public static func unbalancedStreams(_ command: String, _ symbol: Character) -> CommandError {
        CommandError(
            "ERR Unbalanced '\(command)' list of streams: for each stream key an ID or '\(symbol)' must be specified.")
    }
    public static let groupOnlyInXreadgroup = CommandError(
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    public static let noackOnlyInXreadgroup = CommandError(
        "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    public static let missingGroupOption = CommandError("ERR Missing GROUP option for XREADGROUP")
    public static let dollarInXreadgroup = CommandError(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
    )
    public static let greaterThanOnlyInXreadgroup = CommandError(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
    public static func noGroupInXreadgroup(_ key: [UInt8], _ group: [UInt8]) -> CommandError {
        CommandError(
            "NOGROUP No such key '\(String(decoding: key, as: UTF8.self))' or consumer group '\(String(decoding: group, as: UTF8.self))' in XREADGROUP with GROUP option"
        )
    }
    public static func noSuchKeyOrGroup(_ key: [UInt8], _ group: [UInt8]) -> CommandError {
        CommandError(
            "NOGROUP No such key '\(String(decoding: key, as: UTF8.self))' or consumer group '\(String(decoding: group, as: UTF8.self))'"
        )
    }
    public static func noGroupForKey(_ group: [UInt8], _ key: [UInt8]) -> CommandError {
        CommandError(
            "NOGROUP No such consumer group '\(String(decoding: group, as: UTF8.self))' for key name '\(String(decoding: key, as: UTF8.self))'"
        )
    }
    public static let busyGroup = CommandError("BUSYGROUP Consumer Group name already exists")
    /// WAITAOF numlocal > 0 with `appendonly no` (also ending a wait when it is turned off).
    public static let waitAOFWithoutAOF = CommandError(
        "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.")
    public static let unblockedByRoleChange = CommandError(
        "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
    public static let streamKeyGone = CommandError("UNBLOCKED the stream key no longer exists")
    public static let blockedGroupGone = CommandError(
        "NOGROUP the consumer group this client was blocked on no longer exists")
    public static let xgroupKeyMissing = CommandError(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    )
    public static let entriesReadInvalid = CommandError("ERR value for ENTRIESREAD must be positive or -1")
    public static func subcommandSyntax(_ sub: [UInt8], container: String) -> CommandError {
        CommandError(
            "ERR unknown subcommand or wrong number of arguments for '\(String(decoding: sub.prefix(128), as: UTF8.self))'. Try \(container) HELP."
        )
    }
    public static let xclaimMinIdle = CommandError("ERR Invalid min-idle-time argument for XCLAIM")
    public static let xclaimIdle = CommandError("ERR Invalid IDLE option argument for XCLAIM")
    public static let xclaimTime = CommandError("ERR Invalid TIME option argument for XCLAIM")
    public static let xclaimRetryCount = CommandError("ERR Invalid RETRYCOUNT option argument for XCLAIM")
    public static func xclaimUnrecognized(_ option: [UInt8]) -> CommandError {
        CommandError("ERR Unrecognized XCLAIM option '\(String(decoding: option, as: UTF8.self))'")
    }
    public static let xautoclaimMinIdle = CommandError("ERR Invalid min-idle-time argument for XAUTOCLAIM")
    public static let xautoclaimCount = CommandError("ERR COUNT must be > 0")
    public static let entriesAddedNegative = CommandError("ERR entries_added must be positive")
    public static let xsetidBelowGivenMaxDeleted = CommandError(
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    public static let xsetidBelowMaxDeleted = CommandError(
        "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    public static let xsetidBelowTop = CommandError(
        "ERR The ID specified in XSETID is smaller than the target stream top item")
    public static let xsetidEntriesAddedBelowLength = CommandError(
        "ERR The entries_added specified in XSETID is smaller than the target stream length")
}

// MARK: Scripting

extension CommandError {
    public static let numKeysNegative = CommandError("ERR Number of keys can't be negative")
    public static let noScript = CommandError("NOSCRIPT No matching script. Please use EVAL.")
    public static let notBusy = CommandError("NOTBUSY No scripts in execution right now.")
    public static let scriptFlushMode = CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    public static let unkillable = CommandError(
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    )
    public static let busyScript = CommandError(
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    public static let busyFunction = CommandError(
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
}

// Redis Cluster's redirections and refusals (cluster.c's clusterRedirectClient).
extension CommandError {
    public static let crossSlot = CommandError("CROSSSLOT Keys in request don't hash to the same slot")
    public static let clusterDown = CommandError("CLUSTERDOWN The cluster is down")
    public static let clusterDownReadOnly = CommandError(
        "CLUSTERDOWN The cluster is down and only accepts read commands")
    public static let clusterDownUnserved = CommandError("CLUSTERDOWN Hash slot not served")
    public static let tryAgain = CommandError(
        "TRYAGAIN Multiple keys request during rehashing of slot")
    public static let clusterSelect = CommandError("ERR SELECT is not allowed in cluster mode")
    public static func moved(slot: Int, endpoint: String) -> CommandError { CommandError("MOVED \(slot) \(endpoint)") }
    public static func ask(slot: Int, endpoint: String) -> CommandError { CommandError("ASK \(slot) \(endpoint)") }
}
