import Foundation
import VoxelSupport

extension CodedConcept {
    /// The code as label-table JSON: `{"scheme", "value", "meaning"}`.
    public var json: JSON { .object([("scheme", .string(scheme)), ("value", .string(value)), ("meaning", .string(meaning))]) }
}

extension LabelInfo {
    /// The sRGB colour of a DICOM RecommendedDisplayCIELabValue (L*, a*, b* scaled to 0…65535, D65): the
    /// inverse of `cieLab`, rounded to whole 0…255 channels.
    public static func sRGB(fromCIELab lab: [Int]) -> [Int] {
        guard lab.count == 3 else { return [128, 128, 128] }
        let l = Double(lab[0]) / 65535 * 100
        let a = Double(lab[1]) / 65535 * 255 - 128, b = Double(lab[2]) / 65535 * 255 - 128
        let fy = (l + 16) / 116, fx = fy + a / 500, fz = fy - b / 200
        func finv(_ t: Double) -> Double { t * t * t > 216.0 / 24389 ? t * t * t : (116 * t - 16) / (24389.0 / 27) }
        let x = finv(fx) * 0.95047, y = finv(fy), z = finv(fz) * 1.08883
        let r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
        let g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
        let bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
        func encode(_ c: Double) -> Int {
            let v = c <= 0.0031308 ? 12.92 * c : 1.055 * pow(max(c, 0), 1 / 2.4) - 0.055
            return Int((min(1, max(0, v)) * 255).rounded())
        }
        return [encode(r), encode(g), encode(bl)]
    }

    /// The label as label-table JSON (the keys `LabelTable.parse` reads).
    public var json: JSON {
        var members: [(String, JSON)] = [("value", .int(value)), ("name", .string(name)),
                                         ("color", .array(color.map { .int($0) })), ("category", category.json), ("type", type.json)]
        if let region { members.append(("region", region.json)) }
        if let modifier { members.append(("modifier", modifier.json)) }
        return .object(members)
    }
}

extension LabelTable {
    /// The table as JSON, `{"labels": [...]}`, readable by `LabelTable.parse`.
    public var json: JSON { .object([("labels", .array(labels.map(\.json)))]) }

    /// Where the label table of a label map written to `labelMapPath` goes: the same name with
    /// `.labels.json` instead of `.nii`, `.nii.gz` or `.hdr`.
    public static func sidecarPath(for labelMapPath: String) -> String {
        for ext in [".nii.gz", ".nii", ".hdr", ".img"] where labelMapPath.hasSuffix(ext) {
            return String(labelMapPath.dropLast(ext.count)) + ".labels.json"
        }
        return labelMapPath + ".labels.json"
    }
}
