/// YBR_FULL → RGB colour conversion for 8-bit samples (DICOM PS3.3 C.7.6.3.1.2), computed exactly as
/// pydicom does it — float32 coefficients, round half up, clipped to 0…255 — so both give the same bytes.
enum YBRConversion {
    static let crToR = Float(1.402)
    static let cbToG = Float(-0.114 * 1.772 / 0.587)
    static let crToG = Float(-0.299 * 1.402 / 0.587)
    static let cbToB = Float(1.772)

    /// Interleaved Y Cb Cr triplets to interleaved R G B.
    static func toRGB(_ ybr: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ybr.count)
        var i = 0
        while i + 2 < ybr.count {
            let y = Float(ybr[i]), cb = Float(ybr[i + 1]) - 128, cr = Float(ybr[i + 2]) - 128
            let zero = Float(0)
            let r = y + cb * zero + cr * crToR
            let g = y + cb * cbToG + cr * crToG
            let b = y + cb * cbToB + cr * zero
            out[i] = clamp(r)
            out[i + 1] = clamp(g)
            out[i + 2] = clamp(b)
            i += 3
        }
        return out
    }

    static func clamp(_ v: Float) -> UInt8 {
        let rounded = (v + 0.5).rounded(.down)
        return UInt8(min(255, max(0, rounded)))
    }

    /// 4:2:2 subsampled (Y1 Y2 Cb Cr per pair of pixels) to full Y Cb Cr triplets.
    static func expand422(_ stored: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(stored.count / 4 * 6)
        var i = 0
        while i + 3 < stored.count {
            let (y1, y2, cb, cr) = (stored[i], stored[i + 1], stored[i + 2], stored[i + 3])
            out += [y1, cb, cr, y2, cb, cr]
            i += 4
        }
        return out
    }
}
