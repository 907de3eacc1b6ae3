import Foundation
import VoxelSupport

/// The secret behind a de-identification: new UIDs, pseudonyms and date offsets are HMAC-SHA-256 values of
/// the originals under this key. The same key gives the same output for the same input, across files, runs
/// and machines (so series de-identified today still match a SEG de-identified next month); without the key
/// the originals cannot be recomputed from the output.
public struct DeidentificationKey: Sendable, Equatable {
    /// The key's bytes (at least 16).
    public let bytes: [UInt8]

    /// A key from raw bytes.
    /// - Throws: `DeidentificationError.invalidKey` for fewer than 16 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 16 else {
            throw DeidentificationError.invalidKey("the key has \(bytes.count) bytes; use at least 16 (e.g. `head -c 32 /dev/urandom | base64 > key.txt`)")
        }
        self.bytes = bytes
    }

    /// A key from a text (surrounding white space removed).
    public init(text: String) throws {
        try self.init(bytes: Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
    }

    /// Reads a key file (its text, surrounding white space removed).
    /// - Throws: `DeidentificationError.invalidKey` naming the file.
    public init(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DeidentificationError.invalidKey("\(path): cannot read the key file")
        }
        do {
            try self.init(text: String(decoding: data, as: UTF8.self))
        } catch let DeidentificationError.invalidKey(why) {
            throw DeidentificationError.invalidKey("\(path): \(why)")
        }
    }

    /// A fresh random key (outputs of two runs with random keys cannot be linked to each other).
    /// The environment variable that holds a key when no key file is given.
    public static let environmentVariable = "VOXELFLOW_DEID_KEY"

    /// The key the user gave: read from `file` when given, else from `VOXELFLOW_DEID_KEY`; nil when neither.
    /// - Throws: `DeidentificationError.invalidKey` for an unreadable file or a short key.
    public static func given(file: String?) throws -> DeidentificationKey? {
        if let file { return try DeidentificationKey(file: file) }
        if let text = ProcessInfo.processInfo.environment[environmentVariable] { return try DeidentificationKey(text: text) }
        return nil
    }

    public static func random() -> DeidentificationKey {
        var generator = SystemRandomNumberGenerator()
        // 32 random bytes; `try?` cannot fail for this length.
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return (try? DeidentificationKey(bytes: bytes)) ?? DeidentificationKey(unchecked: bytes)
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// 16 hex digits that identify the key without revealing it (recorded in reports, so that two outputs
    /// can be checked to come from the same key).
    public var fingerprint: String {
        String(Self.hex(mac("fingerprint")).prefix(16))
    }

    func mac(_ purpose: String) -> [UInt8] { HMACSHA256.authenticate(key: bytes, message: purpose) }

    /// The replacement for a UID: `2.25.` followed by the decimal value of 128 bits of the keyed hash (a UUID-
    /// derived UID, PS3.5 B.2; at most 44 characters).
    public func uid(for original: String) -> String {
        "2.25." + Self.decimal(Array(mac("uid:" + original).prefix(16)))
    }

    /// The pseudonym for a patient identity: `ANON-` and 12 upper-case hex digits of the keyed hash.
    public func pseudonym(for identity: String) -> String {
        "ANON-" + Self.hex(mac("patient:" + identity)).prefix(12).uppercased()
    }

    /// How many days a patient's dates move back: 1 to 3650, from the keyed hash of the identity.
    public func dayOffset(for identity: String) -> Int {
        let h = mac("dates:" + identity)
        let value = UInt32(h[0]) << 24 | UInt32(h[1]) << 16 | UInt32(h[2]) << 8 | UInt32(h[3])
        return 1 + Int(value % 3650)
    }

    /// Lower-case hex digits of bytes.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// The decimal digits of a big-endian unsigned integer, without leading zeros.
    static func decimal(_ bytes: [UInt8]) -> String {
        var number = bytes.drop { $0 == 0 }.map { UInt32($0) }
        var digits: [Character] = []
        while !number.isEmpty {
            var remainder: UInt32 = 0
            var quotient: [UInt32] = []
            for byte in number {
                let value = remainder << 8 | byte
                let q = value / 10
                remainder = value % 10
                if !(quotient.isEmpty && q == 0) { quotient.append(q) }
            }
            digits.append(Character(String(remainder)))
            number = quotient
        }
        return digits.isEmpty ? "0" : String(digits.reversed())
    }
}
