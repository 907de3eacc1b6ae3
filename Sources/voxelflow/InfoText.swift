import VoxelIO

/// Text layouts for `voxelflow info`.
enum InfoText {
    static func render(_ s: NIfTISummary) -> String {
        var lines: [String] = []
        func row(_ key: String, _ value: String) { lines.append(key.padding(toLength: 16, withPad: " ", startingAt: 0) + value) }
        row("file", s.path)
        row("format", "\(s.format), \(s.byteOrder)\(s.compressed ? ", gzip" : "")")
        row("dimensions", s.dimensions.map(String.init).joined(separator: " x "))
        row("datatype", s.datatype)
        row("spacing", s.spacing.map(number).joined(separator: " x ") + " mm" + (s.timeStep.map { ", time step \(number($0))\(s.timeUnit.map { " " + $0 } ?? "")" } ?? ""))
        row("orientation", s.orientation + (s.oblique ? " (oblique)" : ""))
        row("transform", "\(s.transformSource) (qform_code \(s.qformCode), sform_code \(s.sformCode))")
        for (n, r) in s.affineRAS.enumerated() {
            row(n == 0 ? "affine (RAS)" : "", r.map(number).map { $0.leftPadded(11) }.joined(separator: " "))
        }
        for (n, r) in s.affineLPS.enumerated() {
            row(n == 0 ? "affine (LPS)" : "", r.map(number).map { $0.leftPadded(11) }.joined(separator: " "))
        }
        row("scaling", "slope \(number(s.sclSlope)), intercept \(number(s.sclIntercept))")
        if let lo = s.min, let hi = s.max {
            row("value range", "\(number(lo)) to \(number(hi))" + (s.sclSlope != 1 || s.sclIntercept != 0 ? " (stored \(number(s.storedMin ?? 0)) to \(number(s.storedMax ?? 0)))" : ""))
        } else {
            row("value range", "none (all NaN)")
        }
        if let d = s.description, !d.isEmpty { row("description", d) }
        for w in s.warnings { row("warning", w) }
        return lines.joined(separator: "\n")
    }

    static func render(_ h: DICOMHeader, path: String) -> String {
        var lines: [String] = []
        func row(_ key: String, _ value: String) { lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + value) }
        row("file", path)
        row("format", "DICOM, \(h.transferSyntaxName) (\(h.transferSyntaxUID))")
        row("modality", h.modality)
        let kind = DICOMSOPClass.nonImageName(h.sopClassUID)
        row("SOP class", h.sopClassUID + (kind.map { " (\($0))" } ?? ""))
        row("series", "\(h.seriesNumber.map(String.init) ?? "-") \(h.seriesDescription)")
        if let kind {
            row("object", "\(kind): not an image series" + (h.rows > 0 ? ", \(h.columns) x \(h.rows) x \(h.numberOfFrames) frame(s)" : ""))
            return lines.joined(separator: "\n")
        }
        guard h.hasPixelAttributes, h.rows > 0, h.columns > 0 else {
            row("object", "no image pixel data")
            return lines.joined(separator: "\n")
        }
        row("frame size", "\(h.columns) x \(h.rows) x \(h.numberOfFrames) frame(s)")
        row("pixels", "\(h.bitsStored)/\(h.bitsAllocated) bits, \(h.pixelRepresentation == 1 ? "signed" : "unsigned"), \(h.samplesPerPixel) sample(s), \(h.photometricInterpretation)")
        if let p = h.pixelSpacing { row("pixel spacing", p.map(number).joined(separator: " x ") + " mm") }
        if let t = h.sliceThickness { row("slice thickness", number(t) + " mm") }
        if let p = h.imagePosition { row("position (LPS)", p.map(number).joined(separator: ", ")) }
        if let o = h.imageOrientation { row("orientation", o.map(number).joined(separator: ", ")) }
        row("rescale", "slope \(number(h.rescaleSlope ?? 1)), intercept \(number(h.rescaleIntercept ?? 0))" + (h.rescaleSlope == nil && h.rescaleIntercept == nil ? " (absent)" : ""))
        return lines.joined(separator: "\n")
    }

    /// Up to 6 significant decimals, no trailing zeros.
    static func number(_ v: Double) -> String {
        let scaled = (v * 1_000_000).rounded() / 1_000_000
        if scaled == 0 { return "0" }
        if !v.isFinite { return "\(v)" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        var s = String(format6(v))
        while s.contains(".") && (s.hasSuffix("0") || s.hasSuffix(".")) { s.removeLast() }
        return s
    }

    private static func format6(_ v: Double) -> String {
        let scaled = (v * 1_000_000).rounded() / 1_000_000
        return "\(scaled)"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
