import Dispatch
import VoxelCore
import VoxelSupport

/// How `DICOMStack.volume` stores values.
public struct DICOMVolumeOptions: Sendable {
    /// When every slice has slope 1 and the same integral intercept and the results fit, store physical
    /// values (HU for CT) as int16 with no scaling, as dcm2niix does. Otherwise stored values keep their
    /// type with the (uniform) rescale as scaling, or become float32 physical values when the rescale
    /// differs between slices.
    public var integerPhysicalValues = true
    /// Threads decoding files.
    public var threads = ComputeBudget.threads
    /// Convert PET activity concentration (Bq/mL) to body-weight SUV (float32), with decay correction to
    /// the series time; refused with the missing attribute named when the header lacks what SUV needs.
    public var suvBodyWeight = false
    /// Resample stacks with missing slices or uneven spacing onto a uniform grid along the slice normal
    /// (spacing = the median gap; linear interpolation between the two nearest slices; float32 output).
    /// Sheared (gantry-tilted) stacks are still refused.
    public var resampleToUniformSpacing = false
    /// Reslice gantry-tilted (sheared) stacks onto an orthogonal grid, as dcm2niix's tilt correction does:
    /// each slice is shifted in its plane by linear interpolation and the grid grows so that no voxel is
    /// lost (new voxels get the stack's minimum). When false, tilted stacks are refused with the angle.
    public var correctGantryTilt = true
    /// Default options.
    public init() {}
}

extension DICOMStack {
    /// Decodes the stack into a volume: x along the rows (column index), y down the columns (row index),
    /// z along the slice normal in the stack's sorted order; world coordinates LPS from the DICOM geometry.
    /// - Throws: `DICOMSeriesError` for irregular stacks (missing slices, uneven spacing, tilt), colour or
    ///   mismatched frames; `DICOMError` when a file cannot be decoded.
    public func volume(options: DICOMVolumeOptions = DICOMVolumeOptions()) throws -> Volume {
        let first = slices[0]
        if !isRegular {
            if options.resampleToUniformSpacing && !isTilted && slices.count > 1 {
                return try resampledToUniformSpacing(options: options)
            }
            if options.correctGantryTilt && isTilted && slices.count > 1 {
                return try reslicedForTilt(options: options)
            }
            let hint = isTilted ? "tilt correction was turned off (convert --refuse-tilt, input \"refuseTilt\")" : "ask for resampling to uniform spacing (convert --resample-slices)"
            throw DICOMSeriesError(path: first.path, reason: "cannot build a regular volume: \(irregularity ?? "irregular stack"); \(hint)")
        }
        let h = first.header
        if h.samplesPerPixel == 3 || h.photometricInterpretation == "PALETTE COLOR" {
            return try colourVolume()
        }
        if h.isMosaic {
            return try mosaicVolume(options: options)
        }
        if !laterVolumes.isEmpty {
            return try multiVolume(options: options)
        }
        guard h.samplesPerPixel == 1 else {
            throw DICOMSeriesError(path: first.path, reason: "images with \(h.samplesPerPixel) samples per pixel are not supported")
        }
        let suvFactor = options.suvBodyWeight ? try PETQuantitation.suvBodyWeightFactor(h, path: first.path) : nil
        if suvFactor == nil, options.integerPhysicalValues, let fast = try decodeSingleFrameInt16(options: options) {
            return try Volume(geometry: geometry(), voxels: .int16(fast), metadata: metadata())
        }
        // Decode each file once, in parallel.
        let (files, fileIndex) = distinctFiles()
        let decoded = try decodeAll(files, threads: options.threads)
        let nx = h.columns, ny = h.rows, nz = slices.count
        let frameCount = nx * ny
        for (n, d) in decoded.enumerated() where d.rows != ny || d.columns != nx || d.samplesPerPixel != 1 {
            throw DICOMSeriesError(path: files[n], reason: "frame size \(d.columns)x\(d.rows) differs from the series' \(nx)x\(ny)")
        }
        func source(_ s: DICOMSlice) -> (VoxelArray, Int) {
            (decoded[fileIndex[s.path] ?? 0].samples, s.frame * frameCount)
        }

        let rescales = slices.map(\.rescale)
        let uniform = rescales.allSatisfy { $0 == rescales[0] }
        let storedType = decoded[0].samples.type
        var voxels: VoxelArray
        var scaling = IntensityScaling.identity
        if suvFactor == nil, uniform, options.integerPhysicalValues, let intercept = integralIntercept(rescales[0]),
           storedType.isInteger, fitsInt16(decoded.map(\.samples), intercept: intercept) {
            voxels = .int16(fill(nz, frameCount) { k, out in
                let (src, offset) = source(slices[k])
                Self.addIntercept(src, offset: offset, count: frameCount, intercept: intercept, into: out)
            })
        } else if suvFactor == nil, uniform {
            scaling = rescales[0]
            voxels = try VoxelArray(type: storedType, count: nx * ny * nz) { buffer in
                let size = storedType.byteSize * frameCount
                for (k, s) in slices.enumerated() {
                    let (src, offset) = source(s)
                    try src.withUnsafeBytes { bytes in
                        guard let base = buffer.baseAddress, let from = bytes.baseAddress else { return }
                        guard (offset + frameCount) * storedType.byteSize <= bytes.count else {
                            throw DICOMSeriesError(path: s.path, reason: "frame \(s.frame + 1) is missing from the pixel data")
                        }
                        (base + k * size).copyMemory(from: from + offset * storedType.byteSize, byteCount: size)
                    }
                }
            }
        } else {
            voxels = .float32(fill(nz, frameCount) { k, out in
                let (src, offset) = source(slices[k])
                let r = slices[k].rescale
                let factor = suvFactor ?? 1
                for i in 0..<frameCount { out[i] = Float(r.apply(src.value(at: offset + i)) * factor) }
            })
        }
        var meta = metadata()
        if suvFactor != nil { meta.intensityUnit = "SUVbw" }
        return try Volume(geometry: geometry(), voxels: voxels, scaling: scaling, metadata: meta)
    }

    /// An RGB stack (8 bits per sample) as an `.rgb24` volume; the decoders turn YBR data into RGB, and
    /// palette colour images are mapped through their lookup tables.
    func colourVolume() throws -> Volume {
        let first = slices[0]
        let (files, fileIndex) = distinctFiles()
        let h = first.header
        let frameBytes = h.rows * h.columns * 3
        var decoded = try decodeAll(files, threads: ComputeBudget.threads)
        if h.photometricInterpretation == "PALETTE COLOR" {
            for (n, path) in files.enumerated() {
                let palette = try DICOMPalette.read(DICOMFile(path: path, headerOnly: true))
                decoded[n].samples = .uint8(DICOMPalette.apply(palette, to: decoded[n].samples))
                decoded[n].samplesPerPixel = 3
                decoded[n].bitsAllocated = 8
                decoded[n].photometricInterpretation = "RGB"
            }
        }
        for (n, d) in decoded.enumerated() {
            guard d.bitsAllocated == 8, d.samplesPerPixel == 3, d.rows == h.rows, d.columns == h.columns else {
                throw DICOMSeriesError(path: files[n], reason: "colour volumes need 8-bit RGB frames of \(h.columns)x\(h.rows)")
            }
            guard d.photometricInterpretation.hasPrefix("RGB") else {
                throw DICOMSeriesError(path: files[n], reason: "colour data in \(d.photometricInterpretation) is not converted to RGB yet")
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(frameBytes * slices.count)
        for s in slices {
            guard case .uint8(let samples) = decoded[fileIndex[s.path] ?? 0].samples, samples.count >= (s.frame + 1) * frameBytes else {
                throw DICOMSeriesError(path: s.path, reason: "frame \(s.frame + 1) is missing from the pixel data")
            }
            bytes += samples[(s.frame * frameBytes)..<((s.frame + 1) * frameBytes)]
        }
        return try Volume(geometry: geometry(), voxels: .rgb24(bytes), metadata: metadata())
    }

    /// The stack resampled along the normal onto slices spaced by the median gap, starting at the first slice.
    func resampledToUniformSpacing(options: DICOMVolumeOptions) throws -> Volume {
        guard let normal = slices[0].normal, let spacing = sliceSpacing, spacing > 0 else {
            throw DICOMSeriesError(path: slices[0].path, reason: "cannot resample: the slices have no position or orientation")
        }
        var asIs = self
        asIs.isRegular = true
        asIs.irregularity = nil
        var inner = options
        inner.resampleToUniformSpacing = false
        let source = try asIs.volume(options: inner)
        let keys = slices.map { ($0.position.map { ($0 * normal).sum() }) ?? 0 }
        // Refuse a resampled stack more than 4 times longer than the slices it has (or beyond any real scan):
        // a wrong position would otherwise ask for billions of empty slices.
        guard let steps = Int(checkedRounding: (keys[keys.count - 1] - keys[0]) / spacing),
              steps + 1 <= max(4 * keys.count, 16), steps + 1 <= 100_000 else {
            throw DICOMSeriesError(path: slices[0].path, reason: "cannot resample: the slice positions span \(keys[keys.count - 1] - keys[0]) mm, far more than \(keys.count) slices spaced \(spacing) mm apart")
        }
        let count = steps + 1
        let frame = source.geometry.size.x * source.geometry.size.y
        var lower = 0
        let values: [Float] = [Float](unsafeUninitializedCapacity: frame * count) { out, initialized in
            for k in 0..<count {
                let z = keys[0] + Double(k) * spacing
                while lower + 1 < keys.count - 1 && keys[lower + 1] <= z { lower += 1 }
                let upper = min(lower + 1, keys.count - 1)
                let span = keys[upper] - keys[lower]
                let w = span > 0 ? min(1, max(0, (z - keys[lower]) / span)) : 0
                for i in 0..<frame {
                    let a = source.scaling.apply(source.voxels.value(at: lower * frame + i))
                    let b = source.scaling.apply(source.voxels.value(at: upper * frame + i))
                    out[k * frame + i] = Float(a + (b - a) * w)
                }
            }
            initialized = frame * count
        }
        var g = source.geometry
        g.size.z = count
        g.spacing.z = spacing
        var meta = source.metadata
        meta.description = (meta.description.map { $0 + "; " } ?? "") + "resampled to \(DICOMSeriesAssembler.fmt(spacing)) mm slices"
        return try Volume(geometry: g, voxels: .float32(values), metadata: meta)
    }

    /// A gantry-tilted stack resliced onto the orthogonal grid of its rows, columns and slice normal. Slice k
    /// of a tilted stack is moved in its plane by k times the in-plane part of the step between slices; each
    /// output slice samples its own input slice at the shifted position (bilinear; one axis for a pure tilt),
    /// so values never mix between slices, as in dcm2niix's correction. The grid grows by the whole shift
    /// (rounded up to whole pixels) so no voxel is lost; new voxels get the stack's minimum. int16 stacks
    /// without scaling stay int16 (rounded); others become float32 physical values.
    func reslicedForTilt(options: DICOMVolumeOptions) throws -> Volume {
        let first = slices[0]
        let positions = slices.compactMap(\.position)
        guard positions.count == slices.count, let normal = first.normal, let o = first.orientation, o.count == 6 else {
            throw DICOMSeriesError(path: first.path, reason: "cannot correct the tilt: the slices have no position or orientation")
        }
        let count = slices.count
        let step = (positions[count - 1] - positions[0]) / Double(count - 1)
        let stepLength = (step * step).sum().squareRoot()
        for k in 1..<count {
            let d = positions[k] - positions[k - 1] - step
            guard (d * d).sum().squareRoot() <= max(0.01, 0.01 * stepLength) else {
                throw DICOMSeriesError(path: slices[k].path, reason: "cannot correct the tilt: the slices are tilted and unevenly spaced or missing (after \(slices[k - 1].path))")
            }
        }
        var asIs = self
        asIs.isRegular = true
        asIs.irregularity = nil
        let source = try asIs.volume(options: options)
        let row = SIMD3(o[0], o[1], o[2]), column = SIMD3(o[3], o[4], o[5])
        let g = source.geometry
        let dx = g.spacing.x, dy = g.spacing.y
        let dz = (step * normal).sum()
        guard dz > 0 else {
            throw DICOMSeriesError(path: first.path, reason: "cannot correct the tilt: the slices do not advance along the normal")
        }
        // Shift of each slice in pixels along the rows (x) and the columns (y).
        let shiftX = (step * row).sum() / dx, shiftY = (step * column).sum() / dy
        let totalX = shiftX * Double(count - 1), totalY = shiftY * Double(count - 1)
        guard let extraX = Int(checkedRounding: (abs(totalX) - 1e-6).rounded(.up)), let extraY = Int(checkedRounding: (abs(totalY) - 1e-6).rounded(.up)),
              extraX <= 4 * g.size.x, extraY <= 4 * g.size.y else {
            throw DICOMSeriesError(path: first.path, reason: "cannot correct the tilt: the slices are shifted by more than four times their width")
        }
        let startX = totalX < 0 ? -Double(max(0, extraX)) : 0, startY = totalY < 0 ? -Double(max(0, extraY)) : 0
        let nx = g.size.x, ny = g.size.y
        let outX = nx + max(0, extraX), outY = ny + max(0, extraY)
        let plane = nx * ny, outPlane = outX * outY
        let src = (0..<(plane * count)).map { source.scaling.apply(source.voxels.value(at: $0)) }
        let fill = src.min() ?? 0
        let keepInt16 = source.voxels.type == .int16 && source.scaling == .identity
        let values = [Float](unsafeUninitializedCapacity: outPlane * count) { out, initialized in
            for k in 0..<count {
                let offX = startX - Double(k) * shiftX, offY = startY - Double(k) * shiftY
                for j in 0..<outY {
                    let y = Double(j) + offY
                    let y0 = Int(y.rounded(.down))
                    let wy = y - Double(y0)
                    for i in 0..<outX {
                        let x = Double(i) + offX
                        var value = fill
                        if x > -1e-6, x < Double(nx - 1) + 1e-6, y > -1e-6, y < Double(ny - 1) + 1e-6 {
                            let x0 = min(max(Int(x.rounded(.down)), 0), nx - 1), yy0 = min(max(y0, 0), ny - 1)
                            let x1 = min(x0 + 1, nx - 1), y1 = min(yy0 + 1, ny - 1)
                            let wx = min(max(x - Double(x0), 0), 1), wyc = min(max(wy, 0), 1)
                            let base = k * plane
                            let a = src[base + yy0 * nx + x0], b = src[base + yy0 * nx + x1]
                            let c = src[base + y1 * nx + x0], d = src[base + y1 * nx + x1]
                            value = (a * (1 - wx) + b * wx) * (1 - wyc) + (c * (1 - wx) + d * wx) * wyc
                        }
                        out[k * outPlane + j * outX + i] = Float(value)
                    }
                }
            }
            initialized = outPlane * count
        }
        let origin = positions[0] + row * (startX * dx) + column * (startY * dy)
        let geometry = Geometry(size: SIMD3(outX, outY, count), spacing: SIMD3(dx, dy, dz), origin: origin,
                                direction: Matrix3(columns: row, column, normal))
        var meta = source.metadata
        let degrees = DICOMSeriesAssembler.acosDegrees(min(1, dz / stepLength))
        meta.description = (meta.description.map { $0 + "; " } ?? "") + "gantry tilt of \(DICOMSeriesAssembler.fmt(degrees))° corrected by reslicing"
        if keepInt16 {
            let rounded = values.map { Int16(clamping: Int(($0).rounded())) }
            return try Volume(geometry: geometry, voxels: .int16(rounded), metadata: meta)
        }
        return try Volume(geometry: geometry, voxels: .float32(values), metadata: meta)
    }

    /// The volumes of a series acquired several times over the same positions, one after the other (t is
    /// the slowest axis). int16 when every volume is, with one scaling; else float32 physical values. The
    /// time step is RepetitionTime in seconds when the files give it.
    func multiVolume(options: DICOMVolumeOptions) throws -> Volume {
        var parts: [Volume] = []
        for volumeSlices in [slices] + laterVolumes {
            var one = self
            one.slices = volumeSlices
            one.laterVolumes = []
            let v = try one.volume(options: options)
            if let first = parts.first, v.geometry.size != first.geometry.size || v.timePoints != 1 {
                throw DICOMSeriesError(path: volumeSlices[0].path, reason: "volume \(parts.count + 1) of the series is \(v.shape.map(String.init).joined(separator: "x")), the first \(first.shape.map(String.init).joined(separator: "x"))")
            }
            parts.append(v)
        }
        let first = parts[0]
        let n = first.voxels.count
        let timeStep = slices[0].header.repetitionTime.map { $0 / 1000 } ?? 1
        let voxels: VoxelArray
        var scaling = IntensityScaling.identity
        if parts.allSatisfy({ $0.voxels.type == first.voxels.type && $0.scaling == first.scaling }), case .int16 = first.voxels {
            var all: [Int16] = []
            all.reserveCapacity(n * parts.count)
            for p in parts { if case .int16(let a) = p.voxels { all += a } }
            voxels = .int16(all)
            scaling = first.scaling
        } else {
            var all = [Float](repeating: 0, count: n * parts.count)
            for (t, p) in parts.enumerated() {
                for i in 0..<n { all[t * n + i] = Float(p.scaling.apply(p.voxels.value(at: i))) }
            }
            voxels = .float32(all)
        }
        return try Volume(geometry: first.geometry, voxels: voxels, timePoints: parts.count, timeStep: timeStep,
                          scaling: scaling, metadata: first.metadata)
    }

    /// Series-level metadata from the first slice.
    func metadata() -> Metadata {
        let h = slices[0].header
        return Metadata(modality: h.modality.isEmpty ? nil : h.modality, patientID: h.patientID.isEmpty ? nil : h.patientID,
                        studyInstanceUID: h.studyInstanceUID, seriesInstanceUID: h.seriesInstanceUID,
                        seriesDescription: h.seriesDescription.isEmpty ? nil : h.seriesDescription,
                        description: h.seriesDescription.isEmpty ? nil : h.seriesDescription,
                        intensityUnit: Self.intensityUnit(h))
    }

    /// Unit of the physical values: HU for CT, Bq/mL for PET in BQML, else RescaleType when given.
    static func intensityUnit(_ h: DICOMHeader) -> String? {
        if h.modality == "CT" { return "HU" }
        if h.modality == "PT" && h.pet.units.uppercased() == "BQML" { return "Bq/mL" }
        return h.rescaleType.isEmpty ? nil : h.rescaleType
    }

    /// The common case, done without intermediate copies: single-frame 16-bit grayscale files with one
    /// integral intercept and slope 1, whose every possible value (given BitsStored) fits in Int16. Each
    /// worker decodes its files straight into their slice of the final array. nil when not applicable.
    func decodeSingleFrameInt16(options: DICOMVolumeOptions) throws -> [Int16]? {
        let h = slices[0].header
        guard h.bitsAllocated == 16, h.samplesPerPixel == 1, slices.allSatisfy({ $0.frame == 0 && $0.header.numberOfFrames <= 1 }),
              Set(slices.map(\.path)).count == slices.count,
              slices.allSatisfy({ $0.rescale == slices[0].rescale }), let intercept = integralIntercept(slices[0].rescale) else { return nil }
        let bits = max(1, min(16, h.bitsStored))
        let lowest = h.pixelRepresentation == 1 ? -(1 << (bits - 1)) : 0
        let highest = h.pixelRepresentation == 1 ? (1 << (bits - 1)) - 1 : (1 << bits) - 1
        guard lowest + intercept >= Int(Int16.min), highest + intercept <= Int(Int16.max) else { return nil }
        let frame = h.rows * h.columns
        let paths = slices.map(\.path)
        var failure: (any Error)?
        var notApplicable = false
        let voxels = [Int16](unsafeUninitializedCapacity: frame * paths.count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            MemoryAdvice.preferHugePages(UnsafeMutableRawBufferPointer(buffer))
            let shared = Shared(base)
            let errors = UnsafeMutableBufferPointer<(any Error)?>.allocate(capacity: paths.count)
            errors.initialize(repeating: nil)
            let skipped = UnsafeMutableBufferPointer<Bool>.allocate(capacity: paths.count)
            skipped.initialize(repeating: false)
            defer { errors.deallocate(); skipped.deallocate() }
            let errs = Shared(errors), skips = Shared(skipped)
            let workers = max(1, min(options.threads, paths.count))
            Parallel.perform(workers) { w in
                var k = w
                while k < paths.count {
                    let slice = UnsafeMutableBufferPointer(start: shared.value + k * frame, count: frame)
                    do {
                        if try !DICOMPixels.decodeSliceAddingIntercept(paths[k], rows: h.rows, columns: h.columns,
                                                                       intercept: intercept, into: slice) {
                            skips.value[k] = true
                        }
                    } catch {
                        errs.value[k] = error
                    }
                    k += workers
                }
            }
            failure = errors.compactMap { $0 }.first
            notApplicable = skipped.contains(true)
            initialized = frame * paths.count
        }
        if let failure { throw failure }
        return notApplicable ? nil : voxels
    }

    /// The grid of the stack (LPS). Without ImageOrientationPatient/ImagePositionPatient the grid is
    /// axis-aligned at the origin, spaced by PixelSpacing and SpacingBetweenSlices or SliceThickness (or 1 mm).
    public func geometry() -> Geometry {
        let first = slices[0]
        if first.header.isMosaic, let mosaic = try? mosaicGeometry() { return mosaic }
        let h = first.header
        let ps = first.pixelSpacing ?? [1, 1]
        let dz = sliceSpacing ?? h.spacingBetweenSlices ?? h.sliceThickness ?? 1
        let size = SIMD3(h.columns, h.rows, slices.count)
        let spacing = SIMD3(ps[1], ps[0], dz > 0 ? dz : 1)
        guard let o = first.orientation, o.count == 6, let n = first.normal, let origin = first.position else {
            return Geometry(size: size, spacing: spacing)
        }
        let row = SIMD3(o[0], o[1], o[2]), column = SIMD3(o[3], o[4], o[5])
        return Geometry(size: size, spacing: spacing, origin: origin, direction: Matrix3(columns: row, column, n))
    }

    /// The stack's files in slice order, each once, and each file's position in that list.
    func distinctFiles() -> ([String], [String: Int]) {
        var index: [String: Int] = [:]
        var files: [String] = []
        for s in slices where index[s.path] == nil {
            index[s.path] = files.count
            files.append(s.path)
        }
        return (files, index)
    }

    func decodeAll(_ files: [String], threads: Int) throws -> [DICOMPixelData] {
        let results = UnsafeMutableBufferPointer<Result<DICOMPixelData, any Error>?>.allocate(capacity: files.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let shared = Shared(results)
        let paths = files
        let workers = max(1, min(threads, files.count))
        Parallel.perform(workers) { w in
            var n = w
            while n < paths.count {
                shared.value[n] = Result { try DICOMPixels.decode(paths[n]) }
                n += workers
            }
        }
        return try results.map { r in
            guard let r else { throw DICOMSeriesError(path: files[0], reason: "internal: a file was not decoded") }
            return try r.get()
        }
    }

    /// `out[i] = src[offset + i] + intercept` for integer sources (range checked by the caller).
    static func addIntercept(_ src: VoxelArray, offset: Int, count: Int, intercept: Int, into out: UnsafeMutableBufferPointer<Int16>) {
        func run<T: BinaryInteger>(_ a: [T]) {
            a.withUnsafeBufferPointer { p in
                for i in 0..<count { out[i] = Int16(truncatingIfNeeded: Int(p[offset + i]) + intercept) }
            }
        }
        switch src {
        case .uint8(let a): run(a)
        case .int8(let a): run(a)
        case .uint16(let a): run(a)
        case .int16(let a): run(a)
        case .uint32(let a): run(a)
        case .int32(let a): run(a)
        default: for i in 0..<count { out[i] = Int16(truncatingIfNeeded: Int(src.value(at: offset + i)) + intercept) }
        }
    }

    func integralIntercept(_ r: IntensityScaling) -> Int? {
        guard r.slope == 1, r.intercept == r.intercept.rounded(), abs(r.intercept) < 1e6 else { return nil }
        return Int(r.intercept)
    }

    func fitsInt16(_ arrays: [VoxelArray], intercept: Int) -> Bool {
        for a in arrays {
            guard let r = a.storedRange() else { continue }
            if Int(r.lowerBound) + intercept < Int(Int16.min) || Int(r.upperBound) + intercept > Int(Int16.max) { return false }
        }
        return true
    }

    func fill<T: Numeric>(_ nz: Int, _ frame: Int, _ body: (Int, UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
        [T](unsafeUninitializedCapacity: nz * frame) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            for k in 0..<nz { body(k, UnsafeMutableBufferPointer(start: base + k * frame, count: frame)) }
            initialized = nz * frame
        }
    }
}
