import DataStore

/// Reads a command's arguments left to right, with Redis's errors: options as keywords
/// (case-insensitive, taken only when the values they need follow), integers, floats,
/// counts and ranges. Families parse their options with it instead of index loops:
///
///     var args = ArgumentReader(ctx, from: 3)
///     while !args.isAtEnd {
///         if args.take("match", values: 1) {
///             pattern = args.bytes()
///         } else if args.take("count", values: 1) {
///             count = try args.int64(in: 1...Int64.max, else: .syntax)
///         } else {
///             throw .syntax
///         }
///     }
public struct ArgumentReader {
    public let ctx: CommandContext
    /// The index of the next argument.
    public private(set) var position: Int

    public init(_ ctx: CommandContext, from position: Int) {
        self.ctx = ctx
        self.position = position
    }

    public var isAtEnd: Bool { position >= ctx.argc }
    /// Arguments not read yet.
    public var remaining: Int { max(0, ctx.argc - position) }

    /// Whether the next argument is `keyword`, without taking it.
    public func peek(_ keyword: StaticString) -> Bool {
        !isAtEnd && ctx.argIs(position, keyword)
    }

    /// Takes the next argument when it is `keyword` and at least `values` arguments follow
    /// it (Redis's `j + values < argc` checks: a keyword missing its value is a syntax
    /// error where the caller falls through).
    public mutating func take(_ keyword: StaticString, values: Int = 0) -> Bool {
        guard remaining > values, ctx.argIs(position, keyword) else { return false }
        position += 1
        return true
    }

    /// The next argument, taken; a syntax error when there is none.
    public mutating func next() throws(CommandError) -> ArraySlice<UInt8> {
        guard !isAtEnd else { throw .syntax }
        position += 1
        return ctx.arg(position - 1)
    }

    /// The next argument as bytes of its own (for values kept past the command).
    public mutating func bytes() throws(CommandError) -> [UInt8] { Array(try next()) }

    public mutating func string() throws(CommandError) -> String {
        String(decoding: try next(), as: UTF8.self)
    }

    /// The next argument as an integer (Redis's string2ll: no spaces, no `+`, no leading zeros).
    public mutating func int64(error: CommandError = .notInteger) throws(CommandError) -> Int64 {
        guard let v = parseInt64(try next()) else { throw error }
        return v
    }

    /// An integer within `range`: `error` when it is not an integer, `outOfRange` when it
    /// is one outside the range.
    public mutating func int64(
        in range: ClosedRange<Int64>, error: CommandError = .notInteger, else outOfRange: CommandError
    ) throws(CommandError) -> Int64 {
        let v = try int64(error: error)
        guard range.contains(v) else { throw outOfRange }
        return v
    }

    /// The next argument as a float (Redis's strtold rules: `inf` allowed, `nan` not).
    public mutating func double(error: CommandError = .notFloat) throws(CommandError) -> Double {
        guard let v = parseDouble(try next()) else { throw error }
        return v
    }

    /// Skips `count` arguments (values the caller does not need).
    public mutating func skip(_ count: Int = 1) {
        position = min(ctx.argc, position + count)
    }
}
