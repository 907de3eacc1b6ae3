import Foundation
import Testing
import VoxelCore
import VoxelSupport

/// Known answers for the helpers everything else relies on: SHA-256 (pipeline hashes, case seeds, voxel
/// hashes), the JSON writer (manifests, reports) and checked conversions of header numbers.
@Suite("Support: hashing, JSON writing, checked conversions")
struct SupportTests {
    @Test("SHA-256 matches the FIPS 180-4 / NIST known answers", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256KnownAnswers(_ message: String, _ digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    @Test("SHA-256 of a million 'a's, fed in uneven pieces, matches the known answer")
    func sha256Streaming() {
        var h = SHA256()
        var fed = 0
        var piece = 1
        while fed < 1_000_000 {
            let n = min(piece, 1_000_000 - fed)
            h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            fed += n
            piece = piece * 7 % 1000 + 1
        }
        #expect(h.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("the JSON writer escapes, orders and formats exactly")
    func jsonWriter() {
        let value = JSON.object([("b", .int(1)), ("a", .array([.string("tab\there \"q\" \\ é \u{1F}"), .number(0.5), .bool(false), .null]))])
        #expect(value.serialized(pretty: false) == #"{"b":1,"a":["tab\there \"q\" \\ é \u001f",0.5,false,null]}"#)
        #expect(JSON.number(.infinity).serialized() == "null")
        #expect(JSON.number(1e21).serialized(pretty: false) == JSON.format(1e21))
        #expect(JSON.object([]).serialized(pretty: false) == "{}" && JSON.array([]).serialized(pretty: false) == "[]")
    }

    @Test("header numbers convert to Int only when finite and in range", arguments: [
        (2.4, 2), (-2.6, -3), (1e15, 1_000_000_000_000_000),
    ] as [(Double, Int)])
    func checkedConversion(_ value: Double, _ expected: Int) {
        #expect(Int(checkedRounding: value) == expected)
    }

    @Test("NaN, infinities and huge values give nil instead of a trap", arguments: [Double.nan, .infinity, -.infinity, 1e308, -1e20])
    func checkedConversionRefuses(_ value: Double) {
        #expect(Int(checkedRounding: value) == nil)
    }
}

/// One compute budget from `--jobs` down to every parallel loop.
@Suite("Compute budget")
struct ComputeBudgetTests {
    final class Probe: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0
        private(set) var peak = 0
        private(set) var threads = Set<UInt>()
        private(set) var calls = [Int]()
        private(set) var innerBudgets = Set<Int>()
        func enter(_ i: Int) {
            lock.lock()
            running += 1; peak = max(peak, running); calls.append(i)
            threads.insert(UInt(bitPattern: Int(bitPattern: pthread_self())))
            innerBudgets.insert(ComputeBudget.threads)
            lock.unlock()
        }
        func leave() { lock.lock(); running -= 1; lock.unlock() }
    }

    @Test("with a budget of 1 every call runs in order on the calling thread")
    func serial() {
        let probe = Probe()
        let caller = UInt(bitPattern: Int(bitPattern: pthread_self()))
        ComputeBudget.withThreads(1) {
            Parallel.perform(50) { i in probe.enter(i); probe.leave() }
        }
        #expect(probe.calls == Array(0..<50))
        #expect(probe.threads == [caller])
        #expect(probe.peak == 1)
    }

    @Test("a budget of 2 never runs more than 2 calls at once, every index runs once, nested budgets are 1")
    func bounded() {
        let probe = Probe()
        ComputeBudget.withThreads(2) {
            Parallel.perform(64) { i in
                probe.enter(i)
                usleep(500)
                probe.leave()
            }
        }
        #expect(probe.calls.sorted() == Array(0..<64))
        #expect(probe.peak <= 2)
        #expect(probe.innerBudgets == [1])
    }

    @Test("the budget is per thread and restored after withThreads")
    func scoped() {
        let outside = ComputeBudget.threads
        #expect(outside == System.coreCount)
        ComputeBudget.withThreads(3) {
            #expect(ComputeBudget.threads == 3)
            ComputeBudget.withThreads(1) { #expect(ComputeBudget.threads == 1) }
            #expect(ComputeBudget.threads == 3)
        }
        #expect(ComputeBudget.threads == outside)
    }
}

/// The one JSON writer also serves Codable values (`info --json`, `scan --json`).
@Suite("JSON value encoder")
struct JSONValueEncoderTests {
    struct Inner: Codable, Equatable { var b: [Int]; var a: Double? }
    struct Outer: Codable, Equatable { var z: String; var y: Inner; var x: [Inner]; var w: Double; var v: Bool? }

    @Test("a Codable value encodes with sorted keys, nil left out, non-finite as null, and decodes back")
    func roundTrip() throws {
        let value = Outer(z: "é/\"", y: Inner(b: [1, 2], a: 0.5), x: [Inner(b: [], a: nil)], w: 3, v: nil)
        let json = try JSONValueEncoder.encode(value)
        #expect(json.serialized(pretty: false) == #"{"w":3,"x":[{"b":[]}],"y":{"a":0.5,"b":[1,2]},"z":"é/\""}"#)
        let decoded = try JSONDecoder().decode(Outer.self, from: Data(json.serialized().utf8))
        #expect(decoded == value)
        #expect(try JSONValueEncoder.encode(Inner(b: [], a: .nan)).serialized(pretty: false) == #"{"a":null,"b":[]}"#)
    }
}
