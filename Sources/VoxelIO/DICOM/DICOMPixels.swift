import CDCMTK
import VoxelCore

/// Decoded pixel data of one DICOM file.
public struct DICOMPixelData: Sendable {
    /// Number of frames.
    public var frames: Int
    /// Rows (pixels down a column) of each frame.
    public var rows: Int
    /// Columns (pixels along a row) of each frame.
    public var columns: Int
    /// Samples per pixel: 1 for grayscale, 3 for colour.
    public var samplesPerPixel: Int
    /// BitsAllocated (8 for 1-bit data, which is delivered unpacked as 0/1 bytes), BitsStored and
    /// PixelRepresentation (0 unsigned, 1 signed).
    public var bitsAllocated: Int
    /// BitsStored as found in the file (bits above it are cleared or sign-extended in `samples`).
    public var bitsStored: Int
    /// PixelRepresentation: 0 unsigned, 1 two's complement.
    public var pixelRepresentation: Int
    /// Photometric interpretation of the decoded samples (a JPEG or JPEG 2000 decoder may have turned YBR into RGB).
    public var photometricInterpretation: String
    /// The file's transfer syntax UID.
    public var transferSyntaxUID: String
    /// Stored values in C order (frame, row, column, sample) — column fastest, samples interleaved — with
    /// bits above BitsStored cleared (unsigned) or sign-extended (signed). No rescale applied. The scalar type
    /// follows BitsAllocated and PixelRepresentation (8 → uint8/int8, 16 → uint16/int16, 32 → uint32/int32).
    public var samples: VoxelArray
}

/// Pixel decoding for single DICOM files: native (little/big endian, implicit/explicit, deflated), RLE,
/// JPEG baseline/extended/lossless and JPEG-LS through DCMTK's codecs, JPEG 2000 through OpenJPEG.
public enum DICOMPixels {
    /// Decodes every frame of the file at `path`.
    /// - Throws: `DICOMError` naming the file and the reason (no pixel data, unsupported layout, codec failure,
    ///   truncated data).
    public static func decode(_ path: String) throws -> DICOMPixelData {
        let file = try DICOMFile(path: path)
        return try decode(file)
    }

    static func decode(_ file: DICOMFile) throws -> DICOMPixelData {
        var info = vf_pixel_info()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_dicom_pixel_info(file.handle, &info, &err, err.count) == 0 else {
            throw DICOMError(path: file.path, reason: DICOMFile.message(err))
        }
        let bits = Int(info.bits_allocated) == 1 ? 8 : Int(info.bits_allocated)  // 1-bit arrives unpacked
        guard bits == 8 || bits == 16 || bits == 32 else {
            throw DICOMError(path: file.path, reason: "BitsAllocated \(bits) is not supported for images")
        }
        let signed = info.pixel_representation == 1
        let type: VoxelType = switch (bits, signed) {
        case (8, false): .uint8
        case (8, true): .int8
        case (16, false): .uint16
        case (16, true): .int16
        case (32, false): .uint32
        default: .int32
        }
        let frameSamples = Int(info.rows) * Int(info.columns) * Int(info.samples_per_pixel)
        let (count, overflow) = frameSamples.multipliedReportingOverflow(by: Int(info.frames))
        guard !overflow, count < Int(Int32.max) * 8 else {
            throw DICOMError(path: file.path, reason: "pixel data of \(info.frames) frames of \(info.rows)x\(info.columns) is too large")
        }
        var color = [CChar](repeating: 0, count: 32)
        var failure: String?
        let photometric = cString(info.photometric_interpretation)
        if info.encapsulated == 0 && info.samples_per_pixel == 3 && bits == 8 && photometric.hasPrefix("YBR_FULL") {
            // Native YBR (full or 4:2:2 subsampled): converted to RGB the way pydicom does it.
            var stored = [UInt8](repeating: 0, count: Int(info.frame_bytes) * Int(info.frames))
            let status = stored.withUnsafeMutableBytes { vf_dicom_decode(file.handle, $0.baseAddress, $0.count, &color, color.count, &err, err.count) }
            guard status == 0 else { throw DICOMError(path: file.path, reason: DICOMFile.message(err)) }
            var ybr = photometric.hasPrefix("YBR_FULL_422") ? YBRConversion.expand422(stored) : stored
            if info.planar_configuration == 1 {
                if case .uint8(let v) = interleavePlanes(.uint8(ybr), frames: Int(info.frames), pixels: Int(info.rows) * Int(info.columns), samples: 3) { ybr = v }
            }
            return DICOMPixelData(
                frames: Int(info.frames), rows: Int(info.rows), columns: Int(info.columns), samplesPerPixel: 3,
                bitsAllocated: 8, bitsStored: Int(info.bits_stored), pixelRepresentation: Int(info.pixel_representation),
                photometricInterpretation: "RGB", transferSyntaxUID: cString(info.transfer_syntax_uid),
                samples: .uint8(YBRConversion.toRGB(ybr)))
        }
        let samples = VoxelArray(type: type, count: count) { buffer in
            if vf_dicom_decode(file.handle, buffer.baseAddress, buffer.count, &color, color.count, &err, err.count) != 0 {
                failure = DICOMFile.message(err)
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
        if let failure { throw DICOMError(path: file.path, reason: failure) }
        var masked = samples
        let stored = Int(info.bits_stored)
        if stored > 1 && stored < bits {
            masked = maskToBitsStored(samples, bitsStored: stored)
        }
        if info.planar_configuration == 1 && info.samples_per_pixel > 1 && info.encapsulated == 0 {
            masked = interleavePlanes(masked, frames: Int(info.frames), pixels: Int(info.rows) * Int(info.columns), samples: Int(info.samples_per_pixel))
        }
        return DICOMPixelData(
            frames: Int(info.frames), rows: Int(info.rows), columns: Int(info.columns),
            samplesPerPixel: Int(info.samples_per_pixel), bitsAllocated: bits, bitsStored: stored,
            pixelRepresentation: Int(info.pixel_representation),
            photometricInterpretation: DICOMFile.message(color), transferSyntaxUID: cString(info.transfer_syntax_uid),
            samples: masked)
    }

    /// Decodes a single-frame 16-bit grayscale file straight into `destination` (rows × columns Int16/UInt16
    /// samples), then adds `intercept` in place, producing Int16 physical values. Used by series loading
    /// when every value provably fits (see `DICOMStack.volume`). Returns false when the file is not of that
    /// kind (the caller then takes the general path).
    static func decodeSliceAddingIntercept(_ path: String, rows: Int, columns: Int, intercept: Int,
                                           into destination: UnsafeMutableBufferPointer<Int16>) throws -> Bool {
        let file = try DICOMFile(path: path)
        var info = vf_pixel_info()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_dicom_pixel_info(file.handle, &info, &err, err.count) == 0 else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        guard info.frames == 1, info.bits_allocated == 16, info.samples_per_pixel == 1,
              Int(info.rows) == rows, Int(info.columns) == columns, destination.count == rows * columns else { return false }
        var color = [CChar](repeating: 0, count: 32)
        guard vf_dicom_decode(file.handle, destination.baseAddress, destination.count * 2, &color, color.count, &err, err.count) == 0 else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        let stored = Int(info.bits_stored)
        let signed = info.pixel_representation == 1
        let raw = UnsafeMutableRawBufferPointer(destination)
        let words = raw.bindMemory(to: UInt16.self)
        defer { _ = raw.bindMemory(to: Int16.self) }
        let shift = UInt16(16 - min(16, max(1, stored)))
        for i in 0..<words.count {
            let w = words[i]
            let value: Int = signed ? Int(Int16(bitPattern: w << shift) >> Int16(shift)) : Int((w << shift) >> shift)
            words[i] = UInt16(bitPattern: Int16(truncatingIfNeeded: value + intercept))
        }
        return true
    }

    /// Clears the bits above BitsStored (unsigned) or sign-extends from BitsStored (signed).
    static func maskToBitsStored(_ a: VoxelArray, bitsStored: Int) -> VoxelArray {
        func unsigned<T: FixedWidthInteger & UnsignedInteger>(_ v: [T]) -> [T] {
            let mask = T.max >> (T.bitWidth - bitsStored)
            return v.map { $0 & mask }
        }
        func signed<T: FixedWidthInteger & SignedInteger>(_ v: [T]) -> [T] {
            let shift = T.bitWidth - bitsStored
            return v.map { ($0 << shift) >> shift }
        }
        switch a {
        case .uint8(let v): return .uint8(unsigned(v))
        case .uint16(let v): return .uint16(unsigned(v))
        case .uint32(let v): return .uint32(unsigned(v))
        case .int8(let v): return .int8(signed(v))
        case .int16(let v): return .int16(signed(v))
        case .int32(let v): return .int32(signed(v))
        default: return a
        }
    }

    /// Planar (RRR…GGG…BBB…) to interleaved (RGBRGB…) per frame.
    static func interleavePlanes(_ a: VoxelArray, frames: Int, pixels: Int, samples: Int) -> VoxelArray {
        func reorder<T>(_ v: [T]) -> [T] {
            var out = v
            for f in 0..<frames {
                let base = f * pixels * samples
                for s in 0..<samples {
                    for p in 0..<pixels { out[base + p * samples + s] = v[base + s * pixels + p] }
                }
            }
            return out
        }
        switch a {
        case .uint8(let v): return .uint8(reorder(v))
        case .int8(let v): return .int8(reorder(v))
        case .uint16(let v): return .uint16(reorder(v))
        case .int16(let v): return .int16(reorder(v))
        case .uint32(let v): return .uint32(reorder(v))
        case .int32(let v): return .int32(reorder(v))
        default: return a
        }
    }

    static func cString<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
