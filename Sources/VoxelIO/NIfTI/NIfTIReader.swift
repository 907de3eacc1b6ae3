import CNIfTI
import VoxelCore
import VoxelSupport

/// Reads and writes NIfTI-1 and NIfTI-2 files (`.nii`, `.nii.gz`, `.hdr`/`.img` pairs, either byte order).
///
/// Headers are decoded by libnifti2; voxels are read by VoxelIO with bounds checks done *before* any
/// allocation, so a hostile header (huge or negative dims, offsets past the end, truncated gzip, products
/// that overflow) gives a `NIfTIError` naming the file, never a crash or a multi-gigabyte allocation.
///
/// Geometry follows nibabel: the sform when `sform_code > 0`, else the qform when `qform_code > 0`, else
/// pixdim scaling with x flipped and the origin at the grid centre. The result is converted from NIfTI's
/// RAS+ to VoxelFlow's LPS+ frame. A warning is reported when qform and sform both exist and disagree.
public enum NIfTI {
    /// Header bytes to inflate before parsing (a NIfTI-2 header is 540 bytes; 4 more hold the extension flag).
    static let headerPeek = 544

    /// Reads a NIfTI dataset into memory.
    public static func read(_ path: String) throws -> NIfTIImage {
        let layout = try NIfTILayout(path: path)
        let dataPath = try existingDataPath(layout)

        // 1. Header: inflate only its first bytes.
        let (headerBytes, headerFileBytes) = try loadHeaderBytes(layout.headerPath, wholeFileIfCompressed: !layout.isPair)
        var raw = vf_nifti_header()
        var err = [CChar](repeating: 0, count: 256)
        let status = headerBytes.withUnsafeBytes { vf_nifti_parse_header($0.baseAddress, $0.count, &raw, &err, err.count) }
        guard status == 0 else { throw parseFailure(status, err, path: layout.headerPath) }
        var header = try makeHeader(raw, path: layout.headerPath)
        let type = try voxelType(header, path: layout.headerPath)
        let shape = try validatedShape(header, path: layout.headerPath)
        var voxelCount = 1
        var overflow = false
        for d in shape where !overflow {
            (voxelCount, overflow) = voxelCount.multipliedReportingOverflow(by: d)
        }
        let (byteCount, overflow2) = voxelCount.multipliedReportingOverflow(by: type.byteSize)
        guard !overflow, !overflow2 else {
            throw NIfTIError(path: layout.headerPath, kind: .invalidDimensions("the voxel count \(shape) overflows"))
        }
        guard header.voxOffset >= 0 else {
            throw NIfTIError(path: layout.headerPath, kind: .truncated("vox_offset is not a whole number of bytes from 0 to 2^62"))
        }
        if !layout.isPair && header.voxOffset < headerBytesRequired(header.version) {
            header.voxOffset = headerBytesRequired(header.version) + 4
        }
        let offset = header.voxOffset
        let (end, overflow3) = offset.addingReportingOverflow(byteCount)
        guard !overflow3 else { throw NIfTIError(path: dataPath, kind: .invalidDimensions("voxel offset + size overflows")) }

        // 2. Voxels, after checking the file can hold them.
        var warnings: [String] = []
        header.isCompressed = layout.isPair ? isGzipFile(dataPath) : headerFileBytes != nil
        let voxels = try readVoxels(dataPath: dataPath, preloaded: layout.isPair ? nil : headerFileBytes,
                                    range: offset..<end, type: type, count: voxelCount,
                                    swapped: header.isBigEndian != hostIsBigEndian, warnings: &warnings)

        // 3. Geometry (nibabel's precedence), converted to LPS.
        let (rasAffine, source) = bestAffine(header)
        header.transformSource = source
        guard rasAffine.rows.joined().allSatisfy(\.isFinite) else {
            throw NIfTIError(path: layout.headerPath, kind: .invalidTransform("the \(source.rawValue) holds a value that is not a finite number, so no voxel has a position"))
        }
        if header.qformCode > 0 && header.sformCode > 0 {
            let diff = header.qform.maxAbsDifference(to: header.sform)
            if diff > 1e-3 {
                warnings.append("qform and sform disagree (largest difference \(formatted(diff))); using the sform as nibabel does")
            }
        }
        if raw.scl_slope != 0 && raw.scl_slope.isFinite && !raw.scl_inter.isFinite {
            warnings.append("scl_inter is not finite; using 0")
        }
        let geometry = Geometry(size: SIMD3(shape[0], shape[1], shape[2]), affine: rasAffine.flippingLPSandRAS)
        let scaling = type == .rgb24 ? IntensityScaling.identity : IntensityScaling(slope: raw.scl_slope, intercept: raw.scl_inter)
        let metadata = Metadata(description: header.descrip.isEmpty ? nil : header.descrip)
        do {
            let volume = try Volume(geometry: geometry, voxels: voxels, timePoints: shape[3],
                                    timeStep: shape[3] > 1 && header.pixdim[4] > 0 ? header.pixdim[4] : 1,
                                    scaling: scaling, metadata: metadata)
            return NIfTIImage(volume: volume, header: header, warnings: warnings)
        } catch {
            throw NIfTIError(path: path, kind: .invalidDimensions(String(describing: error)))
        }
    }

    /// Reads only the header (for quick inspection); voxels are not loaded or checked.
    public static func readHeader(_ path: String) throws -> NIfTIHeader {
        let layout = try NIfTILayout(path: path)
        let (headerBytes, _) = try loadHeaderBytes(layout.headerPath, wholeFileIfCompressed: false)
        var raw = vf_nifti_header()
        var err = [CChar](repeating: 0, count: 256)
        let status = headerBytes.withUnsafeBytes { vf_nifti_parse_header($0.baseAddress, $0.count, &raw, &err, err.count) }
        guard status == 0 else { throw parseFailure(status, err, path: layout.headerPath) }
        var header = try makeHeader(raw, path: layout.headerPath)
        _ = try validatedShape(header, path: layout.headerPath)
        header.transformSource = bestAffine(header).1
        return header
    }

    // MARK: - Steps

    static func parseFailure(_ status: Int32, _ err: [CChar], path: String) -> NIfTIError {
        NIfTIError(path: path, kind: status == 2 ? .invalidDimensions(cString(err)) : .notNIfTI(cString(err)))
    }

    static func isGzipFile(_ path: String) -> Bool {
        (try? FileIO.read(path, offset: 0, count: 2, allowShort: true)) == [0x1f, 0x8b]
    }

    static var hostIsBigEndian: Bool { 1.bigEndian == 1 }

    static func headerBytesRequired(_ version: Int) -> Int { version == 2 ? 540 : 348 }

    /// The data file of a pair may carry or lack `.gz` independently of the header.
    static func existingDataPath(_ layout: NIfTILayout) throws -> String {
        guard layout.isPair else { return layout.dataPath }
        let candidates = [layout.dataPath, layout.dataPath.hasSuffix(".gz") ? String(layout.dataPath.dropLast(3)) : layout.dataPath + ".gz"]
        for c in candidates where FileIO.exists(c) { return c }
        throw NIfTIError(path: layout.dataPath, kind: .io("the image file of this header/image pair does not exist"))
    }

    /// Returns the first `headerPeek` uncompressed bytes and, for a compressed single file, the whole
    /// compressed file (so it is read from disk once).
    static func loadHeaderBytes(_ path: String, wholeFileIfCompressed: Bool) throws -> ([UInt8], [UInt8]?) {
        let first: [UInt8]
        do {
            first = try FileIO.read(path, offset: 0, count: 2, allowShort: true)
        } catch {
            throw NIfTIError(path: path, kind: .io(FileIOError.reason(error)))
        }
        let isGzip = first.count == 2 && first[0] == 0x1f && first[1] == 0x8b
        if !isGzip {
            do {
                return (try FileIO.read(path, offset: 0, count: headerPeek, allowShort: true), nil)
            } catch {
                throw NIfTIError(path: path, kind: .io(FileIOError.reason(error)))
            }
        }
        let compressed: [UInt8]
        do {
            compressed = try FileIO.readAll(path)
        } catch {
            throw NIfTIError(path: path, kind: .io(FileIOError.reason(error)))
        }
        do {
            let prefix = try compressed.withUnsafeBytes { (b) throws -> [UInt8] in
                try Gzip.inflatePrefix(b, maxBytes: headerPeek)
            }
            return (prefix, wholeFileIfCompressed ? compressed : nil)
        } catch {
            throw NIfTIError(path: path, kind: .corrupt(String(describing: error)))
        }
    }

    static func makeHeader(_ raw: vf_nifti_header, path: String) throws -> NIfTIHeader {
        guard raw.version != 0 else { throw NIfTIError(path: path, kind: .analyzeNotSupported) }
        guard raw.version == 1 || raw.version == 2 else { throw NIfTIError(path: path, kind: .notNIfTI("unknown NIfTI magic")) }
        let dims = withUnsafeBytes(of: raw.dim) { Array($0.bindMemory(to: Int64.self)).map { Int($0) } }
        let pixdim = withUnsafeBytes(of: raw.pixdim) { Array($0.bindMemory(to: Double.self)) }
        let fileBigEndian = (raw.swapped != 0) != hostIsBigEndian
        var descrip = raw.descrip
        let text = withUnsafeBytes(of: &descrip) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return NIfTIHeader(
            version: Int(raw.version), isBigEndian: fileBigEndian, isPair: raw.is_pair != 0,
            dim: dims, pixdim: pixdim, datatypeCode: Int(raw.datatype),
            sclSlope: raw.scl_slope, sclInter: raw.scl_inter,
            qformCode: Int(raw.qform_code), sformCode: Int(raw.sform_code),
            qform: affine(raw.qform), sform: affine(raw.sform),
            voxOffset: Int(raw.vox_offset), xyzUnits: Int(raw.xyz_units), timeUnits: Int(raw.time_units),
            intentCode: Int(raw.intent_code), descrip: text.trimmingTrailingSpaces(), transformSource: .pixdim)
    }

    static func voxelType(_ header: NIfTIHeader, path: String) throws -> VoxelType {
        guard let type = NIfTIDatatype.voxelType(forCode: header.datatypeCode) else {
            throw NIfTIError(path: path, kind: .unsupportedDatatype(code: header.datatypeCode, name: NIfTIDatatype.name(ofCode: header.datatypeCode)))
        }
        return type
    }

    /// `[nx, ny, nz, nt]` after checking every used dimension.
    static func validatedShape(_ header: NIfTIHeader, path: String) throws -> [Int] {
        let ndim = header.dim[0]
        guard (1...7).contains(ndim) else {
            throw NIfTIError(path: path, kind: .invalidDimensions("dim[0] = \(ndim), must be 1 to 7"))
        }
        for n in 1...ndim where header.dim[n] < 1 {
            throw NIfTIError(path: path, kind: .invalidDimensions("dim[\(n)] = \(header.dim[n]), must be at least 1"))
        }
        if ndim > 4, let extra = (5...ndim).first(where: { header.dim[$0] > 1 }) {
            throw NIfTIError(path: path, kind: .invalidDimensions("dim[\(extra)] = \(header.dim[extra]): volumes of more than 4 dimensions are not supported"))
        }
        return (1...4).map { $0 <= ndim ? header.dim[$0] : 1 }
    }

    /// Reads the voxel bytes `range` of the data file straight into the final voxel storage: one
    /// allocation, no zero-filling, no intermediate copy. Sizes are checked against the file first.
    static func readVoxels(dataPath: String, preloaded: [UInt8]?, range: Range<Int>, type: VoxelType, count: Int,
                           swapped: Bool, warnings: inout [String]) throws -> VoxelArray {
        var compressed = preloaded
        if compressed == nil {
            do {
                if isGzipFile(dataPath) { compressed = try FileIO.readAll(dataPath) }
            } catch {
                throw NIfTIError(path: dataPath, kind: .io(FileIOError.reason(error)))
            }
        }
        guard let compressed else {
            // Uncompressed: the file size bounds everything.
            let fileSize: Int
            do { fileSize = try FileIO.size(of: dataPath) } catch { throw NIfTIError(path: dataPath, kind: .io(FileIOError.reason(error))) }
            guard range.upperBound <= fileSize else {
                throw NIfTIError(path: dataPath, kind: .truncated("the header needs \(range.count) bytes of voxels at offset \(range.lowerBound), but the file has \(fileSize) bytes"))
            }
            do {
                return try VoxelArray(type: type, count: count, byteSwapped: swapped) { buffer in
                    MemoryAdvice.preferHugePages(buffer)
                    try FileIO.read(dataPath, offset: range.lowerBound, into: buffer)
                }
            } catch {
                throw NIfTIError(path: dataPath, kind: .io(FileIOError.reason(error)))
            }
        }
        // Compressed: DEFLATE cannot expand more than ~1032:1, so a header promising more is rejected
        // before the output buffer is allocated.
        let (limit, overflow) = compressed.count.multipliedReportingOverflow(by: Gzip.maxExpansion)
        guard overflow || range.upperBound <= limit + 4096 else {
            throw NIfTIError(path: dataPath, kind: .truncated("the header needs \(range.upperBound) bytes, but \(compressed.count) compressed bytes can hold at most \(limit)"))
        }
        do {
            var extra = false
            let voxels = try compressed.withUnsafeBytes { input -> VoxelArray in
                if let members = Gzip.indexedMembers(input) {
                    let total = members.reduce(0) { $0 + $1.uncompressedSize }
                    if total >= range.upperBound {
                        extra = total > range.upperBound
                        // Members written by VoxelFlow: inflate in parallel, voxels only.
                        return try VoxelArray(type: type, count: count, byteSwapped: swapped) { buffer in
                            MemoryAdvice.preferHugePages(buffer)
                            try Gzip.decompressRange(input, members: members, range: range, into: buffer)
                        }
                    }
                }
                // Any other gzip: inflate header and voxels together; the header bytes are dropped in place.
                return try VoxelArray(type: type, count: count, leadingBytes: range.lowerBound, byteSwapped: swapped) { buffer in
                    MemoryAdvice.preferHugePages(buffer)
                    extra = try Gzip.decompress(input, into: buffer)
                }
            }
            if extra { warnings.append("the file holds data after the last voxel; it was ignored") }
            return voxels
        } catch GzipError.truncated(let produced, let expected) {
            throw NIfTIError(path: dataPath, kind: .truncated("the gzip stream ends after \(produced) bytes; the header needs \(expected)"))
        } catch {
            throw NIfTIError(path: dataPath, kind: .corrupt(String(describing: error)))
        }
    }

    /// nibabel's `get_best_affine`, in RAS.
    static func bestAffine(_ h: NIfTIHeader) -> (Affine, NIfTIHeader.TransformSource) {
        if h.sformCode > 0 { return (h.sform, .sform) }
        if h.qformCode > 0 { return (h.qform, .qform) }
        // nibabel's shape_zoom_affine: x flipped, voxel centre of the grid at the world origin.
        let ndim = max(1, min(h.dim[0], 7))
        var shape = [Double](repeating: 1, count: 3)
        var zooms = [Double](repeating: 1, count: 3)
        for n in 0..<min(ndim, 3) {
            shape[n] = Double(h.dim[n + 1])
            zooms[n] = h.pixdim[n + 1]
        }
        zooms[0] = -zooms[0]
        let linear = Matrix3(rows: [zooms[0], 0, 0, 0, zooms[1], 0, 0, 0, zooms[2]])
        let t = SIMD3((0..<3).map { -((shape[$0] - 1) / 2) * zooms[$0] })
        return (Affine(linear: linear, translation: SIMD3(t[0], t[1], t[2])), .pixdim)
    }

    static func affine(_ m: (( Double, Double, Double, Double), (Double, Double, Double, Double), (Double, Double, Double, Double), (Double, Double, Double, Double))) -> Affine {
        Affine(rows: [[m.0.0, m.0.1, m.0.2, m.0.3], [m.1.0, m.1.1, m.1.2, m.1.3], [m.2.0, m.2.1, m.2.2, m.2.3]])
    }

    static func cString(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func formatted(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        return "\(scaled) mm"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
