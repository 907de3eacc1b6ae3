import CDCMTK
import VoxelCore

/// Palette colour lookup tables (PhotometricInterpretation PALETTE COLOR) and their application.
enum DICOMPalette {
    /// One channel: entries and the pixel value mapped to entry 0.
    struct Channel {
        var table: [UInt16]
        var firstMapped: Int
    }

    /// Reads the red, green and blue tables of a loaded file.
    static func read(_ file: DICOMFile) throws -> [Channel] {
        try (0..<3).map { channel in
            var info = vf_palette_info()
            var err = [CChar](repeating: 0, count: 256)
            var table = [UInt16](repeating: 0, count: 65536)
            let status = table.withUnsafeMutableBufferPointer {
                vf_dicom_palette(file.handle, Int32(channel), &info, $0.baseAddress, $0.count, &err, err.count)
            }
            guard status == 0 else { throw DICOMError(path: file.path, reason: DICOMFile.message(err)) }
            table.removeSubrange(Int(info.entries)...)
            return Channel(table: table, firstMapped: Int(info.first_mapped))
        }
    }

    /// Maps palette indices to interleaved 8-bit RGB. Tables with 16-bit values keep their high byte;
    /// tables whose values all fit in 8 bits are used as they are. Indices outside the table take its
    /// first or last entry, as the standard says.
    static func apply(_ channels: [Channel], to indices: VoxelArray) -> [UInt8] {
        let eightBit = channels.map { c in c.table.allSatisfy { $0 <= 255 } }
        var out = [UInt8](repeating: 0, count: indices.count * 3)
        for n in 0..<indices.count {
            let index = Int(indices.value(at: n))
            for c in 0..<3 {
                let table = channels[c].table
                let i = min(max(index - channels[c].firstMapped, 0), table.count - 1)
                let v = table[i]
                out[3 * n + c] = eightBit[c] ? UInt8(v) : UInt8(v >> 8)
            }
        }
        return out
    }
}
