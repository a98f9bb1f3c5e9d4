import CommandTestSupport
import Testing

@testable import Server

/// The argument reader the families parse options with: keywords taken only with their
/// values, Redis's number errors, the position left where parsing stopped.
@Suite struct ArgumentReaderTests {
    func reader(_ args: String..., from position: Int) -> ArgumentReader {
        let r = CommandRunner()
        r.first.load(args.map { Array($0.utf8) })
        return ArgumentReader(r.context, from: position)
    }

    /// The error `read` throws, nil when it reads without one.
    func failure<T>(_ read: () throws(CommandError) -> T) -> CommandError? {
        do {
            _ = try read()
            return nil
        } catch {
            return error
        }
    }

    @Test func keywordsAreCaseInsensitiveAndNeedTheirValues() throws {
        var args = reader("SCAN", "0", "match", "k*", "COUNT", from: 2)
        let countFirst = args.take("count")
        #expect(!countFirst)
        let match = args.take("MATCH", values: 1)
        #expect(match)
        let pattern = try args.bytes()
        #expect(pattern == Array("k*".utf8))
        // COUNT without its value is not taken: the caller's syntax error.
        let countWithValue = args.take("count", values: 1)
        #expect(!countWithValue)
        #expect(args.peek("count") && args.remaining == 1)
        let count = args.take("count")
        #expect(count && args.isAtEnd)
        #expect(failure { () throws(CommandError) in try args.next() } == .syntax)
    }

    @Test func integersWithRedisErrors() throws {
        var args = reader("X", "10", "+1", "007", "-3", "99999999999999999999", "5", "300", from: 1)
        let ten = try args.int64()
        #expect(ten == 10)
        #expect(failure { () throws(CommandError) in try args.int64() } == .notInteger)  // no '+'
        #expect(failure { () throws(CommandError) in try args.int64() } == .notInteger)  // no leading zeros
        #expect(failure { () throws(CommandError) in try args.int64(in: 0...Int64.max, else: .syntax) } == .syntax)
        #expect(
            failure { () throws(CommandError) in
                try args.int64(in: 0...Int64.max, error: .limitNegative, else: .syntax)
            } == .limitNegative)
        let five = try args.int64(in: 0...255, else: .restoreFreq)
        #expect(five == 5)
        #expect(failure { () throws(CommandError) in try args.int64(in: 0...255, else: .restoreFreq) } == .restoreFreq)
        #expect(args.isAtEnd)
    }

    @Test func floatsStringsAndSkipping() throws {
        var args = reader("X", "1.5", "inf", "nan", "abc", "rest", from: 1)
        let first = try args.double()
        let second = try args.double()
        #expect(first == 1.5 && second == .infinity)
        #expect(failure { () throws(CommandError) in try args.double() } == .notFloat)
        args.skip()
        let rest = try args.string()
        #expect(rest == "rest")
        args.skip(5)
        #expect(args.isAtEnd && args.position == 6)
    }
}
