import CNIfTI
import VoxelCore

/// How `NIfTI.write` encodes a volume.
public struct NIfTIWriteOptions: Sendable, Equatable {
    /// 1 or 2; nil picks NIfTI-1 unless a dimension exceeds 32,767 voxels.
    public var version: Int?
    /// libdeflate level for `.gz` outputs, 1 (fastest) to 12 (smallest).
    public var compressionLevel: Int
    /// Write big-endian instead of little-endian.
    public var bigEndian: Bool
    /// qform_code to store (1 = scanner, 2 = aligned, 3 = Talairach, 4 = MNI-152).
    public var qformCode: Int
    /// sform_code to store (same codes).
    public var sformCode: Int
    /// Threads compressing gzip members.
    public var threads: Int
    /// Flush each file to disk (fsync) before it is renamed into place. Off by default: outputs are
    /// atomic against a killed process either way; this adds safety against power loss at a cost in speed.
    public var durable: Bool = false
    /// intent_code to store: 0 (none) by default; `NIfTIWriteOptions.labelIntent` (1002, NIFTI_INTENT_LABEL)
    /// marks a label map, so viewers show its values as labels.
    public var intentCode: Int = 0
    /// intent_name (at most 15 characters), e.g. "labels".
    public var intentName: String = ""

    /// NIFTI_INTENT_LABEL: the voxel values are label indices.
    public static let labelIntent = 1002

    /// Options with every field settable; the defaults write little-endian NIfTI-1 (NIfTI-2 when needed)
    /// with scanner-space codes and gzip level `Gzip.defaultLevel`.
    public init(version: Int? = nil, compressionLevel: Int = Gzip.defaultLevel, bigEndian: Bool = false,
                qformCode: Int = 1, sformCode: Int = 1, threads: Int = Gzip.defaultThreads) {
        self.version = version
        self.compressionLevel = compressionLevel
        self.bigEndian = bigEndian
        self.qformCode = qformCode
        self.sformCode = sformCode
        self.threads = threads
    }

    /// Options that keep the qform/sform codes and version of a header that was read.
    public static func preserving(_ header: NIfTIHeader) -> NIfTIWriteOptions {
        let s = header.sformCode > 0 ? header.sformCode : (header.qformCode > 0 ? header.qformCode : 1)
        let q = header.qformCode > 0 ? header.qformCode : s
        return NIfTIWriteOptions(version: header.version, qformCode: q, sformCode: s)
    }
}

extension NIfTI {
    /// Writes `volume` to `path`; the extension picks the layout: `.nii`, `.nii.gz`, or a `.hdr`/`.img` pair.
    ///
    /// The affine is written both as the sform and as the qform (derived by libnifti2), so every reader
    /// recovers the same world coordinates. Files appear atomically: each is written under a temporary
    /// name and renamed into place only once complete. `.gz` outputs are multi-member gzip compressed in
    /// parallel (standard gzip; see `Gzip`).
    public static func write(_ volume: Volume, to path: String, options: NIfTIWriteOptions = NIfTIWriteOptions()) throws {
        let layout = try NIfTILayout(path: path)
        let size = volume.geometry.size
        let dims = [size.x, size.y, size.z, volume.timePoints]
        let needsTwo = dims.contains { $0 > Int(Int16.max) }
        let version = options.version ?? (needsTwo ? 2 : 1)
        guard version == 1 || version == 2 else {
            throw NIfTIError(path: path, kind: .cannotEncode("NIfTI version must be 1 or 2, not \(version)"))
        }
        if version == 1 && needsTwo {
            throw NIfTIError(path: path, kind: .cannotEncode("dimensions \(dims) exceed NIfTI-1's limit of 32767; write NIfTI-2"))
        }
        var headerBytes = try encodeHeader(volume, dims: dims, version: version, isPair: layout.isPair, options: options, path: path)
        if !layout.isPair { headerBytes += [0, 0, 0, 0] }  // extension flag: no extensions
        if options.bigEndian {
            headerBytes.withUnsafeMutableBytes { vf_nifti_swap_header($0.baseAddress, Int32(version)) }
        }
        let swapped = options.bigEndian != hostIsBigEndian
        let voxelBytes: [UInt8]? = swapped ? byteSwappedCopy(volume.voxels) : nil

        func emit(_ target: String, _ parts: [UnsafeRawBufferPointer]) throws {
            do {
                if layout.compressed {
                    let members = Gzip.compress(parts, level: options.compressionLevel, threads: options.threads)
                    try members.withBuffers { try FileIO.writeAtomically(target, chunks: $0, durable: options.durable) }
                } else {
                    try FileIO.writeAtomically(target, chunks: parts, durable: options.durable)
                }
            } catch {
                throw NIfTIError(path: target, kind: .cannotWriteFile(FileIOError.reason(error)))
            }
        }

        try headerBytes.withUnsafeBytes { (header) throws in
            try withVoxelBytes(volume.voxels, swappedCopy: voxelBytes) { (data) throws in
                if layout.isPair {
                    try emit(layout.dataPath, [data])
                    try emit(layout.headerPath, [header])
                } else {
                    try emit(layout.headerPath, [header, data])
                }
            }
        }
    }

    static func encodeHeader(_ volume: Volume, dims: [Int], version: Int, isPair: Bool,
                             options: NIfTIWriteOptions, path: String) throws -> [UInt8] {
        var raw = vf_nifti_header()
        raw.version = Int32(version)
        raw.is_pair = isPair ? 1 : 0
        let ndim = volume.timePoints > 1 ? 4 : 3
        let spacing = volume.geometry.spacing
        let pix = [1.0, spacing.x, spacing.y, spacing.z, volume.timePoints > 1 ? volume.timeStep : 1, 1, 1, 1]
        withUnsafeMutableBytes(of: &raw.dim) { buf in
            let d = buf.bindMemory(to: Int64.self)
            d[0] = Int64(ndim)
            for n in 1..<8 { d[n] = n <= 4 ? Int64(dims[n - 1]) : 1 }
        }
        withUnsafeMutableBytes(of: &raw.pixdim) { buf in
            let p = buf.bindMemory(to: Double.self)
            for n in 0..<8 { p[n] = pix[n] }
        }
        raw.datatype = Int32(NIfTIDatatype.code(for: volume.voxelType))
        raw.scl_slope = volume.scaling.slope
        raw.scl_inter = volume.scaling.intercept
        raw.qform_code = Int32(options.qformCode)
        raw.sform_code = Int32(options.sformCode)
        let ras = volume.geometry.affine.flippingLPSandRAS.rows
        withUnsafeMutableBytes(of: &raw.sform) { buf in
            let m = buf.bindMemory(to: Double.self)
            for r in 0..<4 { for c in 0..<4 { m[4 * r + c] = ras[r][c] } }
        }
        raw.xyz_units = 2   // NIFTI_UNITS_MM
        raw.time_units = volume.timePoints > 1 ? 8 : 0  // NIFTI_UNITS_SEC
        raw.intent_code = Int32(options.intentCode)
        let intentName = Array(options.intentName.utf8.prefix(15))
        withUnsafeMutableBytes(of: &raw.intent_name) { buf in
            for (n, byte) in intentName.enumerated() { buf[n] = byte }
        }
        let text = Array((volume.metadata.description ?? "").utf8.prefix(79))
        withUnsafeMutableBytes(of: &raw.descrip) { buf in
            for (n, byte) in text.enumerated() { buf[n] = byte }
        }
        var out = [UInt8](repeating: 0, count: 544)
        var length = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = out.withUnsafeMutableBytes { buf in
            vf_nifti_encode_header(&raw, buf.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, &err, err.count)
        }
        guard status == 0 else { throw NIfTIError(path: path, kind: .cannotEncode(cString(err))) }
        return Array(out.prefix(length))
    }

    static func byteSwappedCopy(_ voxels: VoxelArray) -> [UInt8]? {
        let size = voxels.type.sampleSize
        guard size > 1 else { return nil }
        return voxels.withUnsafeBytes { src in
            var out = [UInt8](src)
            out.withUnsafeMutableBytes { dst in
                var n = 0
                while n < dst.count {
                    for b in 0..<(size / 2) { dst.swapAt(n + b, n + size - 1 - b) }
                    n += size
                }
            }
            return out
        }
    }

    static func withVoxelBytes<R>(_ voxels: VoxelArray, swappedCopy: [UInt8]?, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        if let swappedCopy {
            return try swappedCopy.withUnsafeBytes { (b) throws -> R in try body(b) }
        }
        return try voxels.withUnsafeBytes { (b) throws -> R in try body(b) }
    }
}
