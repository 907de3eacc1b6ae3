import VoxelCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a scan learnt about each file, kept between scans so that a re-scan reads only files that are new
/// or changed: a file whose size, modification time (nanoseconds), device and inode are unchanged is taken
/// from the cache without being opened.
///
/// The cache holds each file's header, PatientID included: it is protected health information, to be kept
/// where the archive is. `save` writes it atomically in a compact binary layout (a few hundred bytes per
/// file, read and written at disk speed); `load` refuses a file that is not a cache, and ignores one of
/// another format version or written by a build whose header layout differs (the scan then reads every file).
public struct DICOMScanCache: Sendable {
    /// The format version; caches of other versions are ignored.
    public static let formatVersion: UInt32 = 3
    static let magic = Array("VFSCANCACHE\u{0}".utf8)

    /// One file's identity on disk.
    struct Stamp: Equatable, Sendable {
        var size: Int64
        var modified: Int64
        var device: UInt64
        var inode: UInt64
    }

    /// One file's scan result.
    struct Entry: Sendable {
        var stamp: Stamp
        var result: DICOMScanner.FileContentResult
    }

    var entries: [String: Entry] = [:]
    /// Files the last scan took from the cache, and files it read.
    public internal(set) var hits = 0, misses = 0
    /// Why a cache file was not used (another version or header layout), when it was not.
    public internal(set) var ignoredBecause: String?

    /// An empty cache.
    public init() {}

    /// Files the cache knows.
    public var count: Int { entries.count }

    /// A fingerprint of `DICOMHeader`'s layout: a cache written by a build with other header fields is not used.
    static var layout: UInt32 { UInt32(MemoryLayout<DICOMHeader>.size) << 16 | UInt32(MemoryLayout<PETAttributes>.size) }

    /// Reads a cache written by `save`. A missing file gives an empty cache; so does a cache of another
    /// format version or header layout (`ignoredBecause` says which).
    /// - Throws: `DICOMError` when the file exists but is not a VoxelFlow scan cache, or is truncated.
    public static func load(_ path: String) throws -> DICOMScanCache {
        guard FileIdentity(path: path) != nil else { return DICOMScanCache() }
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(path) } catch {
            throw DICOMError(path: path, reason: "cannot read the scan cache: \(error)")
        }
        var r = CacheReader(bytes: bytes)
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw DICOMError(path: path, reason: "not a VoxelFlow scan cache (refused, never overwritten)")
        }
        r.offset = magic.count
        var cache = DICOMScanCache()
        do {
            let version = try r.u32(), layout = try r.u32()
            guard version == formatVersion, layout == Self.layout else {
                cache.ignoredBecause = version != formatVersion ? "format \(version), this build reads \(formatVersion)" : "written by a build with another header layout"
                return cache
            }
            let count = try r.u32()
            // Never reserve more than the bytes can hold (an entry takes at least 38 bytes): a damaged count
            // must not ask for gigabytes.
            cache.entries.reserveCapacity(min(Int(count), bytes.count / 38))
            for _ in 0..<count {
                let path = try r.string()
                let stamp = Stamp(size: try r.i64(), modified: try r.i64(), device: try r.u64(), inode: try r.u64())
                let result: DICOMScanner.FileContentResult
                switch try r.u8() {
                case 0:
                    let header = try r.header()
                    let n = Int(try r.u32())
                    guard n <= 1_000_000 else { throw CacheReader.Truncated() }
                    var slices: [DICOMSlice] = []
                    slices.reserveCapacity(min(n, (bytes.count - r.offset) / 32))
                    for _ in 0..<n {
                        let frame = Int(try r.u32())
                        let position = try r.doubles()
                        var slice = DICOMSlice(path: path, frame: frame, header: header,
                                               position: position.flatMap { $0.count == 3 ? SIMD3($0[0], $0[1], $0[2]) : nil },
                                               orientation: try r.doubles(), pixelSpacing: try r.doubles(),
                                               rescale: IntensityScaling(slope: try r.f64(), intercept: try r.f64()))
                        slice.header.diffusionBValue = try r.optDouble()
                        slice.header.diffusionGradient = try r.doubles()
                        slice.header.temporalPosition = try r.optInt()
                        slices.append(slice)
                    }
                    result = .success(.slices(slices))
                case 1: result = .success(.nonImage(try r.string()))
                default: result = .failure(DICOMError(path: path, reason: try r.string()))
                }
                cache.entries[path] = Entry(stamp: stamp, result: result)
            }
        } catch {
            throw DICOMError(path: path, reason: "the scan cache is truncated or damaged; delete it to rebuild it")
        }
        return cache
    }

    /// Writes the cache to `path` atomically.
    public func save(_ path: String) throws {
        var w = CacheWriter()
        w.bytes += Self.magic
        w.u32(Self.formatVersion)
        w.u32(Self.layout)
        w.u32(UInt32(entries.count))
        for (path, e) in entries.sorted(by: { $0.key < $1.key }) {
            w.string(path)
            w.i64(e.stamp.size); w.i64(e.stamp.modified); w.u64(e.stamp.device); w.u64(e.stamp.inode)
            switch e.result {
            case .success(.slices(let slices)):
                w.u8(0)
                w.header(slices.first?.header)
                w.u32(UInt32(slices.count))
                for s in slices {
                    w.u32(UInt32(s.frame))
                    w.doubles(s.position.map { [$0.x, $0.y, $0.z] })
                    w.doubles(s.orientation)
                    w.doubles(s.pixelSpacing)
                    w.f64(s.rescale.slope); w.f64(s.rescale.intercept)
                    // Per-frame attributes of enhanced images (the file's own values otherwise).
                    w.optDouble(s.header.diffusionBValue); w.doubles(s.header.diffusionGradient); w.optInt(s.header.temporalPosition)
                }
            case .success(.nonImage(let kind)):
                w.u8(1); w.string(kind)
            case .failure(let error):
                w.u8(2); w.string(error.reason)
            }
        }
        try AtomicFile.write(w.bytes, to: path)
    }

    /// The identity of the file at `path` now, or nil when it cannot be stat'ed.
    static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        let modified = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        return Stamp(size: Int64(st.st_size), modified: modified, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// The cached result for `path` when the file is unchanged.
    func lookup(_ path: String, stamp: Stamp?) -> DICOMScanner.FileContentResult? {
        guard let stamp, let e = entries[path], e.stamp == stamp else { return nil }
        return e.result
    }

    /// Records the result of reading `path`.
    mutating func record(_ path: String, stamp: Stamp?, _ result: DICOMScanner.FileContentResult) {
        guard let stamp else { entries[path] = nil; return }
        entries[path] = Entry(stamp: stamp, result: result)
    }

    /// Forgets files that are not in `paths` (deleted since the last scan).
    mutating func keepOnly(_ paths: [String]) {
        let keep = Set(paths)
        entries = entries.filter { keep.contains($0.key) }
    }
}

/// Little-endian writer of the cache layout.
struct CacheWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
    mutating func optInt(_ v: Int?) { if let v { u8(1); i64(Int64(v)) } else { u8(0) } }
    mutating func optDouble(_ v: Double?) { if let v { u8(1); f64(v) } else { u8(0) } }
    mutating func doubles(_ v: [Double]?) {
        guard let v else { u32(UInt32.max); return }
        u32(UInt32(v.count)); for d in v { f64(d) }
    }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }

    /// Every stored property of the header, in declaration order.
    mutating func header(_ h: DICOMHeader?) {
        guard let h else { u8(0); return }
        u8(1)
        for s in [h.transferSyntaxUID, h.transferSyntaxName, h.sopClassUID, h.sopInstanceUID, h.studyInstanceUID,
                  h.seriesInstanceUID, h.modality, h.seriesDescription] { string(s) }
        optInt(h.seriesNumber); optInt(h.instanceNumber)
        for v in [h.rows, h.columns, h.numberOfFrames, h.bitsAllocated, h.bitsStored, h.pixelRepresentation, h.samplesPerPixel] { i64(Int64(v)) }
        string(h.photometricInterpretation)
        doubles(h.imagePosition); doubles(h.imageOrientation); doubles(h.pixelSpacing)
        optDouble(h.sliceThickness); optDouble(h.rescaleSlope); optDouble(h.rescaleIntercept)
        for s in [h.patientID, h.studyDate, h.studyDescription, h.imageType, h.protocolName, h.bodyPartExamined, h.rescaleType] { string(s) }
        optInt(h.echoNumber); optInt(h.temporalPosition); optInt(h.acquisitionNumber)
        optDouble(h.spacingBetweenSlices); optDouble(h.gantryTilt)
        i64(Int64(h.mosaicImages)); doubles(h.csaSliceNormal)
        let p = h.pet
        string(p.units); optDouble(p.patientWeight); string(p.seriesDate); string(p.seriesTime); string(p.decayCorrection)
        optDouble(p.radionuclideTotalDose); optDouble(p.radionuclideHalfLife)
        string(p.radiopharmaceuticalStartTime); string(p.radiopharmaceuticalStartDateTime)
        bool(h.hasMetaHeader); bool(h.hasPixelAttributes); bool(h.identifierTooLong)
        string(h.frameOfReferenceUID)
        optDouble(h.repetitionTime); optDouble(h.diffusionBValue); doubles(h.diffusionGradient)
    }
}

/// Reader of `CacheWriter`'s layout; every read is checked against the end of the bytes.
struct CacheReader {
    struct Truncated: Error {}
    let bytes: [UInt8]
    var offset = 0

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, offset <= bytes.count - n else { throw Truncated() }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }
    mutating func u8() throws -> UInt8 { try take(1).first ?? 0 }
    mutating func u32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    mutating func f64() throws -> Double { Double(bitPattern: try u64()) }
    mutating func int() throws -> Int { Int(try i64()) }
    mutating func string() throws -> String { String(decoding: try take(Int(try u32())), as: UTF8.self) }
    mutating func optInt() throws -> Int? { try u8() == 1 ? try int() : nil }
    mutating func optDouble() throws -> Double? { try u8() == 1 ? try f64() : nil }
    mutating func doubles() throws -> [Double]? {
        let n = try u32()
        if n == UInt32.max { return nil }
        guard n <= 64 else { throw Truncated() }
        return try (0..<Int(n)).map { _ in try f64() }
    }
    mutating func bool() throws -> Bool { try u8() == 1 }

    mutating func header() throws -> DICOMHeader {
        guard try u8() == 1 else { throw Truncated() }
        let strings = try (0..<8).map { _ in try string() }
        let seriesNumber = try optInt(), instanceNumber = try optInt()
        let ints = try (0..<7).map { _ in try int() }
        let photometric = try string()
        let position = try doubles(), orientation = try doubles(), spacing = try doubles()
        let thickness = try optDouble(), slope = try optDouble(), intercept = try optDouble()
        let more = try (0..<7).map { _ in try string() }
        let echo = try optInt(), temporal = try optInt(), acquisition = try optInt()
        let between = try optDouble(), tilt = try optDouble()
        let mosaic = try int(), normal = try doubles()
        let pet = PETAttributes(units: try string(), patientWeight: try optDouble(), seriesDate: try string(), seriesTime: try string(),
                                decayCorrection: try string(), radionuclideTotalDose: try optDouble(), radionuclideHalfLife: try optDouble(),
                                radiopharmaceuticalStartTime: try string(), radiopharmaceuticalStartDateTime: try string())
        let meta = try bool(), pixels = try bool(), tooLong = try bool()
        var h = DICOMHeader(
            transferSyntaxUID: strings[0], transferSyntaxName: strings[1], sopClassUID: strings[2], sopInstanceUID: strings[3],
            studyInstanceUID: strings[4], seriesInstanceUID: strings[5], modality: strings[6], seriesDescription: strings[7],
            seriesNumber: seriesNumber, instanceNumber: instanceNumber, rows: ints[0], columns: ints[1], numberOfFrames: ints[2],
            bitsAllocated: ints[3], bitsStored: ints[4], pixelRepresentation: ints[5], samplesPerPixel: ints[6],
            photometricInterpretation: photometric, imagePosition: position, imageOrientation: orientation, pixelSpacing: spacing,
            sliceThickness: thickness, rescaleSlope: slope, rescaleIntercept: intercept, patientID: more[0], studyDate: more[1],
            studyDescription: more[2], imageType: more[3], protocolName: more[4], bodyPartExamined: more[5], rescaleType: more[6],
            echoNumber: echo, temporalPosition: temporal, acquisitionNumber: acquisition, spacingBetweenSlices: between,
            gantryTilt: tilt, mosaicImages: mosaic, csaSliceNormal: normal, pet: pet, hasMetaHeader: meta,
            hasPixelAttributes: pixels, identifierTooLong: tooLong)
        h.frameOfReferenceUID = try string()
        h.repetitionTime = try optDouble()
        h.diffusionBValue = try optDouble()
        h.diffusionGradient = try doubles()
        return h
    }
}
