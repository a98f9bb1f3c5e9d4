import Testing

@testable import DataStore

@Suite struct SortedSetValueTests {
    /// Random inserts, updates and removals across many chunks (through `set` and through
    /// ZADD's `scoreIndex`/`setScore`/`insertNew`, scores with many ties) agree with a sorted
    /// model.
    @Test func matchesASortedModel() {
        let z = SortedSetValue()
        var model: [String: Double] = [:]
        var rng = SplitMix64(seed: 42)
        for step in 0..<20_000 {
            let member = "m\(Int.random(in: 0..<3000, using: &rng))"
            if step % 5 == 4 {
                #expect(z.remove(Array(member.utf8)) == (model.removeValue(forKey: member) != nil))
            } else {
                let score = Double(Int.random(in: 0..<500, using: &rng))
                if step % 2 == 0 {
                    z.set(Array(member.utf8), score: score)
                } else {
                    // ZADD's path: found and moved by its bytes, or inserted as new.
                    let bytes = Array(member.utf8)
                    if let at = bytes.withUnsafeBytes({ z.scoreIndex($0) }) {
                        #expect(z.score(at: at) == model[member])
                        bytes.withUnsafeBytes { z.setScore(at: at, $0, score) }
                    } else {
                        #expect(model[member] == nil)
                        z.insertNew(bytes, score: score)
                    }
                }
                model[member] = score
            }
        }
        let expected = model.sorted { a, b in
            a.value != b.value ? a.value < b.value : Array(a.key.utf8).lexicographicallyPrecedes(Array(b.key.utf8))
        }
        #expect(z.count == expected.count)
        #expect(z.chunks.count > 1)
        let actual = Array(z.entries)
        #expect(actual.map { String(decoding: $0.member, as: UTF8.self) } == expected.map(\.key))
        for (i, e) in expected.enumerated() where i % 97 == 0 {
            #expect(z.rank(Array(e.key.utf8)) == i)
            #expect(z.entries[i].score == e.value)
        }
        let lo = z.firstIndex(min: 100, exclusive: true)
        let hi = z.endIndex(max: 200, exclusive: false)
        #expect(hi - lo == expected.filter { $0.value > 100 && $0.value <= 200 }.count)
        #expect(z.entries.slice(lo..<hi).allSatisfy { $0.score > 100 && $0.score <= 200 })
    }
}
