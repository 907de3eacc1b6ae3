/// HMAC-SHA-256 (RFC 2104, FIPS 198-1): keyed hashes for values that must be reproducible with a secret
/// key and unguessable without it (de-identification's UIDs, pseudonyms and date offsets).
public enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key` (keys longer than 64 bytes are hashed first).
    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = key
        if block.count > 64 {
            var h = SHA256()
            h.update(block)
            block = h.digest()
        }
        block += [UInt8](repeating: 0, count: 64 - block.count)
        var inner = SHA256()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.digest())
        return outer.digest()
    }

    /// The authentication code of a UTF-8 string.
    public static func authenticate(key: [UInt8], message: String) -> [UInt8] {
        authenticate(key: key, message: Array(message.utf8))
    }
}
