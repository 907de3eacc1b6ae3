import Foundation
import VoxelCore

/// Declarative rules that pick the diagnostic series of a mixed archive and leave out localizers, scouts,
/// derived and secondary-capture series (the role of MONAI Deploy's series selector).
///
/// Every rule that is set must hold for a stack to be selected. Text rules are regular expressions searched
/// in the attribute (case-insensitive; anchor them with `^…$` for a whole match). `imageType` items must each
/// be among the ImageType values, and items written `!VALUE` must not be. `bestPerStudy` then keeps one stack
/// per patient and study. Each rejected stack is reported with the rule that rejected it.
public struct DICOMSeriesSelection: Sendable, Equatable {
    /// How one stack per study is chosen.
    public enum Best: String, Sendable, CaseIterable {
        /// The stack with the most slices (ties: the thinnest, then the lowest series number).
        case mostSlices = "most-slices"
        /// The stack with the smallest slice spacing (ties: the most slices, then the lowest series number).
        case thinnest
    }

    /// A slice plane, named by the patient axis the slice normal is closest to.
    public enum Plane: String, Sendable, CaseIterable {
        case axial, coronal, sagittal
    }

    /// Regular expression on Modality (0008,0060).
    public var modality: String?
    /// Regular expression on SeriesDescription (0008,103E).
    public var seriesDescription: String?
    /// Regular expression on ProtocolName (0018,1030).
    public var protocolName: String?
    /// Regular expression on BodyPartExamined (0018,0015).
    public var bodyPartExamined: String?
    /// ImageType (0008,0008) values that must be present, or with a leading `!`, absent (case-insensitive).
    public var imageType: [String] = []
    /// Inclusive range of the number of slices.
    public var slices: ClosedRange<Double>?
    /// Inclusive range of SliceThickness (0018,0050) in mm (a stack without it is rejected).
    public var sliceThickness: ClosedRange<Double>?
    /// Inclusive range of the distance between slices, mm (single-slice stacks are rejected).
    public var sliceSpacing: ClosedRange<Double>?
    /// Inclusive range of both in-plane pixel spacings, mm.
    public var pixelSpacing: ClosedRange<Double>?
    /// Accepted slice planes.
    public var planes: [Plane] = []
    /// Keep one stack per patient and study.
    public var bestPerStudy: Best?

    /// No rules: every stack is selected.
    public init() {}

    /// True when no rule is set.
    public var isEmpty: Bool { self == DICOMSeriesSelection() }

    /// Why `pattern` is not a usable regular expression, or nil.
    public static func regexProblem(_ pattern: String) -> String? {
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "not a valid regular expression: \(error)"
        }
    }

    /// The plane of a stack (nil without orientation).
    public static func plane(of stack: DICOMStack) -> Plane? {
        guard let n = stack.slices[0].normal else { return nil }
        let a = SIMD3(abs(n.x), abs(n.y), abs(n.z))
        if a.z >= a.x && a.z >= a.y { return .axial }
        return a.y >= a.x ? .coronal : .sagittal
    }

    /// Why `stack` fails one of the per-stack rules, or nil when it passes all of them.
    public func rejection(_ stack: DICOMStack) -> String? {
        let h = stack.header
        func text(_ rule: String, _ pattern: String?, _ value: String) -> String? {
            guard let pattern else { return nil }
            guard let regex = try? Regex(pattern).ignoresCase(), (try? regex.firstMatch(in: value)) != nil else {
                return "\(rule) \"\(value)\" does not match \"\(pattern)\""
            }
            return nil
        }
        if let r = text("modality", modality, h.modality) ?? text("seriesDescription", seriesDescription, h.seriesDescription)
            ?? text("protocolName", protocolName, h.protocolName) ?? text("bodyPartExamined", bodyPartExamined, h.bodyPartExamined) {
            return r
        }
        let types = Set(h.imageType.uppercased().split(separator: "\\").map { $0.trimmingCharacters(in: [" "]) })
        for item in imageType {
            let wanted = item.uppercased()
            if wanted.hasPrefix("!") {
                let v = String(wanted.dropFirst())
                if types.contains(v) { return "imageType \"\(h.imageType)\" contains \(v)" }
            } else if !types.contains(wanted) {
                return "imageType \"\(h.imageType)\" lacks \(wanted)"
            }
        }
        func range(_ rule: String, _ r: ClosedRange<Double>?, _ value: Double?, _ unit: String) -> String? {
            guard let r else { return nil }
            guard let value else { return "\(rule): the series has no value" }
            return r.contains(value) ? nil : "\(rule) \(format(value))\(unit) is outside \(format(r.lowerBound))…\(format(r.upperBound))\(unit)"
        }
        if let r = range("slices", slices, Double(stack.slices.count), "")
            ?? range("sliceThickness", sliceThickness, h.sliceThickness, " mm")
            ?? range("sliceSpacing", sliceSpacing, stack.sliceSpacing, " mm") {
            return r
        }
        if let r = pixelSpacing {
            guard let p = stack.slices[0].pixelSpacing, p.count == 2 else { return "pixelSpacing: the series has no value" }
            if !r.contains(p[0]) || !r.contains(p[1]) {
                return "pixelSpacing \(format(p[0]))×\(format(p[1])) mm is outside \(format(r.lowerBound))…\(format(r.upperBound)) mm"
            }
        }
        if !planes.isEmpty {
            guard let p = Self.plane(of: stack) else { return "orientation: the series has no ImageOrientationPatient" }
            if !planes.contains(p) { return "orientation \(p.rawValue) is not \(planes.map(\.rawValue).joined(separator: " or "))" }
        }
        return nil
    }

    /// Applies every rule: returns the selected stacks (in their order) and, for each rejected one, its index
    /// in `stacks` with the reason.
    public func apply(_ stacks: [DICOMStack]) -> (selected: [Int], rejected: [(index: Int, reason: String)]) {
        var selected: [Int] = []
        var rejected: [(Int, String)] = []
        for (n, s) in stacks.enumerated() {
            if let why = rejection(s) { rejected.append((n, why)) } else { selected.append(n) }
        }
        guard let best = bestPerStudy else { return (selected, rejected) }
        var groups: [[String]: [Int]] = [:]
        for n in selected { groups[[stacks[n].header.patientID, stacks[n].header.studyInstanceUID], default: []].append(n) }
        var kept = Set<Int>()
        for (_, members) in groups {
            let winner = members.min { a, b in better(stacks[a], than: stacks[b], by: best) }
            if let winner {
                kept.insert(winner)
                for n in members where n != winner {
                    rejected.append((n, "bestPerStudy (\(best.rawValue)): the study's series \(stacks[winner].label) was kept"))
                }
            }
        }
        return (selected.filter(kept.contains), rejected.sorted { $0.0 < $1.0 })
    }

    private func better(_ a: DICOMStack, than b: DICOMStack, by best: Best) -> Bool {
        let spacingA = a.sliceSpacing ?? .infinity, spacingB = b.sliceSpacing ?? .infinity
        let numberA = a.header.seriesNumber ?? Int.max, numberB = b.header.seriesNumber ?? Int.max
        switch best {
        case .mostSlices:
            return (-a.slices.count, spacingA, numberA, a.header.seriesInstanceUID) < (-b.slices.count, spacingB, numberB, b.header.seriesInstanceUID)
        case .thinnest:
            return (spacingA, -a.slices.count, numberA, a.header.seriesInstanceUID) < (spacingB, -b.slices.count, numberB, b.header.seriesInstanceUID)
        }
    }

    private func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%g", v)
    }
}
