import VoxelCore

extension DICOMStack {
    /// Layout of a Siemens MOSAIC image: `count` tiles of `tileRows` × `tileColumns` in a square grid of
    /// `tilesPerSide` × `tilesPerSide`, filled row by row.
    struct MosaicLayout {
        var count: Int
        var tilesPerSide: Int
        var tileRows: Int
        var tileColumns: Int

        init?(_ h: DICOMHeader) {
            guard h.isMosaic else { return nil }
            count = h.mosaicImages
            var side = 1
            while side * side < count { side += 1 }
            tilesPerSide = side
            guard h.rows % side == 0, h.columns % side == 0 else { return nil }
            tileRows = h.rows / side
            tileColumns = h.columns / side
        }
    }

    /// The grid of the de-tiled mosaic (see `mosaicVolume`).
    func mosaicGeometry() throws -> Geometry {
        let first = slices[0]
        let h = first.header
        guard let layout = MosaicLayout(h) else {
            throw DICOMSeriesError(path: first.path, reason: "MOSAIC of \(h.mosaicImages) images does not tile \(h.columns)x\(h.rows)")
        }
        guard let o = first.orientation, o.count == 6, let ipp = first.position, let ps = first.pixelSpacing else {
            throw DICOMSeriesError(path: first.path, reason: "MOSAIC without ImagePositionPatient, ImageOrientationPatient or PixelSpacing")
        }
        let row = SIMD3(o[0], o[1], o[2]), column = SIMD3(o[3], o[4], o[5])
        var normal = first.normal ?? SIMD3(0, 0, 1)
        if let n = h.csaSliceNormal, n.count == 3 { normal = SIMD3(n[0], n[1], n[2]) }
        let origin = ipp + row * (ps[1] * Double(h.columns - layout.tileColumns) / 2)
                         + column * (ps[0] * Double(h.rows - layout.tileRows) / 2)
        let dz = h.spacingBetweenSlices ?? h.sliceThickness ?? 1
        return Geometry(size: SIMD3(layout.tileColumns, layout.tileRows, layout.count),
                        spacing: SIMD3(ps[1], ps[0], dz > 0 ? dz : 1), origin: origin,
                        direction: Matrix3(columns: row, column, normal))
    }

    /// De-tiles the stack's MOSAIC files, one volume per file in acquisition order (a DWI, fMRI or ASL
    /// series becomes one 4D volume). ImagePositionPatient of a mosaic is that of the whole mosaic grid, so
    /// the first tile's centre is moved by half the difference between mosaic and tile size along the row and
    /// column directions (the correction dcm2niix applies); tiles follow CSA SliceNormalVector. The time step
    /// is RepetitionTime in seconds when the files give it.
    func mosaicVolume(options: DICOMVolumeOptions) throws -> Volume {
        let first = slices[0]
        let h = first.header
        guard let layout = MosaicLayout(h) else {
            throw DICOMSeriesError(path: first.path, reason: "MOSAIC of \(h.mosaicImages) images does not tile \(h.columns)x\(h.rows)")
        }
        let (files, _) = distinctFiles()
        let decoded = try decodeAll(files, threads: options.threads)
        let type = decoded[0].samples.type
        for (n, d) in decoded.enumerated() {
            guard d.samples.type == type, d.rows == h.rows, d.columns == h.columns, d.samplesPerPixel == 1 else {
                throw DICOMSeriesError(path: files[n], reason: "MOSAIC \(d.columns)x\(d.rows) (\(d.samples.type)) differs from the series' first file, \(h.columns)x\(h.rows) (\(type))")
            }
            guard d.samples.count >= h.rows * h.columns else {
                throw DICOMSeriesError(path: files[n], reason: "MOSAIC pixel data is shorter than the image")
            }
        }
        let size = type.byteSize
        let tile = layout.tileRows * layout.tileColumns
        let perVolume = tile * layout.count
        let stored = VoxelArray(type: type, count: perVolume * decoded.count) { dst in
            guard let to = dst.baseAddress else { return }
            for (t, d) in decoded.enumerated() {
                d.samples.withUnsafeBytes { src in
                    guard let from = src.baseAddress else { return }
                    for k in 0..<layout.count {
                        let tileRow = k / layout.tilesPerSide, tileColumn = k % layout.tilesPerSide
                        for r in 0..<layout.tileRows {
                            let sourceRow = tileRow * layout.tileRows + r
                            let sourceOffset = (sourceRow * h.columns + tileColumn * layout.tileColumns) * size
                            let targetOffset = (t * perVolume + k * tile + r * layout.tileColumns) * size
                            (to + targetOffset).copyMemory(from: from + sourceOffset, byteCount: layout.tileColumns * size)
                        }
                    }
                }
            }
        }
        let geometry = try mosaicGeometry()
        let timeStep = h.repetitionTime.map { $0 / 1000 } ?? 1
        let rescales = slices.map(\.rescale)
        if rescales.allSatisfy({ $0 == rescales[0] }) {
            if options.integerPhysicalValues, let intercept = integralIntercept(rescales[0]), type.isInteger,
               fitsInt16([stored], intercept: intercept) {
                let values = fill(1, perVolume * decoded.count) { _, out in
                    Self.addIntercept(stored, offset: 0, count: perVolume * decoded.count, intercept: intercept, into: out)
                }
                return try Volume(geometry: geometry, voxels: .int16(values), timePoints: decoded.count, timeStep: timeStep,
                                  metadata: metadata())
            }
            return try Volume(geometry: geometry, voxels: stored, timePoints: decoded.count, timeStep: timeStep,
                              scaling: rescales[0], metadata: metadata())
        }
        // The rescale differs between volumes: physical values as float32.
        let values = fill(decoded.count, perVolume) { t, out in
            let r = rescales[t]
            for i in 0..<perVolume { out[i] = Float(r.apply(stored.value(at: t * perVolume + i))) }
        }
        return try Volume(geometry: geometry, voxels: .float32(values), timePoints: decoded.count, timeStep: timeStep,
                          metadata: metadata())
    }
}
