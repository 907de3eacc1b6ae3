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

    /// Splits a MOSAIC file into its slices. ImagePositionPatient of a mosaic is that of the whole mosaic
    /// grid, so the first tile's centre is moved by half the difference between mosaic and tile size along
    /// the row and column directions (the correction dcm2niix applies); tiles follow CSA SliceNormalVector.
    func mosaicVolume(options: DICOMVolumeOptions) throws -> Volume {
        let first = slices[0]
        let h = first.header
        guard let layout = MosaicLayout(h) else {
            throw DICOMSeriesError(path: first.path, reason: "MOSAIC of \(h.mosaicImages) images does not tile \(h.columns)x\(h.rows)")
        }
        let pixels = try DICOMPixels.decode(first.path)
        let type = pixels.samples.type
        let size = type.byteSize
        let tile = layout.tileRows * layout.tileColumns
        let stored = try pixels.samples.withUnsafeBytes { src in
            try VoxelArray(type: type, count: tile * layout.count) { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return }
                guard src.count >= h.rows * h.columns * size else {
                    throw DICOMSeriesError(path: first.path, reason: "MOSAIC pixel data is shorter than the image")
                }
                for k in 0..<layout.count {
                    let tileRow = k / layout.tilesPerSide, tileColumn = k % layout.tilesPerSide
                    for r in 0..<layout.tileRows {
                        let sourceRow = tileRow * layout.tileRows + r
                        let sourceOffset = (sourceRow * h.columns + tileColumn * layout.tileColumns) * size
                        let targetOffset = (k * tile + r * layout.tileColumns) * size
                        (to + targetOffset).copyMemory(from: from + sourceOffset, byteCount: layout.tileColumns * size)
                    }
                }
            }
        }
        let geometry = try mosaicGeometry()
        let rescale = first.rescale
        if options.integerPhysicalValues, let intercept = integralIntercept(rescale), type.isInteger,
           fitsInt16([stored], intercept: intercept) {
            let values = fill(1, tile * layout.count) { _, out in
                Self.addIntercept(stored, offset: 0, count: tile * layout.count, intercept: intercept, into: out)
            }
            return try Volume(geometry: geometry, voxels: .int16(values), metadata: metadata())
        }
        return try Volume(geometry: geometry, voxels: stored, scaling: rescale, metadata: metadata())
    }
}
