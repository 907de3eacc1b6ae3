import CDeflate

/// PNG encoding (ISO/IEC 15948) of 8-bit RGB images, for report pictures: one IDAT chunk, zlib-compressed
/// by libdeflate, each scanline with the "Up" filter (good for medical slices, where rows resemble each other).
public enum PNG {
    /// The PNG file of a `width` × `height` RGB image (`rgb`: rows top to bottom, 3 bytes per pixel).
    /// - Throws: `PNGError` when the size does not match the pixels or the compressor cannot be made.
    public static func encode(rgb: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        guard width > 0, height > 0, rgb.count == width * height * 3 else {
            throw PNGError(reason: "\(rgb.count) bytes are not a \(width) × \(height) RGB image")
        }
        let stride = width * 3
        var filtered = [UInt8](repeating: 0, count: height * (stride + 1))
        for y in 0..<height {
            let out = y * (stride + 1), row = y * stride
            if y == 0 {
                filtered[out] = 0  // None
                for x in 0..<stride { filtered[out + 1 + x] = rgb[row + x] }
            } else {
                filtered[out] = 2  // Up: difference to the row above
                for x in 0..<stride { filtered[out + 1 + x] = rgb[row + x] &- rgb[row - stride + x] }
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolour, deflate, adaptive filtering, no interlace
        chunk("IHDR", header, into: &png)
        guard let compressed = zlib(filtered) else { throw PNGError(reason: "cannot allocate the compressor") }
        chunk("IDAT", compressed, into: &png)
        chunk("IEND", [], into: &png)
        return png
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8], into png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        png += bigEndian(UInt32(data.count))
        let body = typeBytes + data
        png += body
        let crc = body.withUnsafeBytes { libdeflate_crc32(0, $0.baseAddress, $0.count) }
        png += bigEndian(crc)
    }

    /// A zlib stream (RFC 1950) of `data`, compression level 6.
    static func zlib(_ data: [UInt8]) -> [UInt8]? {
        guard let compressor = libdeflate_alloc_compressor(6) else { return nil }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_zlib_compress_bound(compressor, data.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in libdeflate_zlib_compress(compressor, src.baseAddress, src.count, dst.baseAddress, dst.count) }
        }
        return Array(out.prefix(n))
    }
}

/// A PNG that cannot be made, with the reason.
public struct PNGError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var reason: String
    public var description: String { "PNG: \(reason)" }
}
