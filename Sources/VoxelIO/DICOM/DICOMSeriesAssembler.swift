#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VoxelCore
import VoxelSupport

/// Groups slices into series and stacks (split by size, pixel format, orientation, pixel spacing, echo,
/// temporal position, and acquisition when acquisitions repeat positions), sorts them in space and checks their spacing — the rules of
/// dcm2niix and highdicom: order comes from projecting ImagePositionPatient on the slice normal (the cross
/// product of the ImageOrientationPatient rows), never from file names or InstanceNumber.
public enum DICOMSeriesAssembler {
    /// Tolerances used when checking stacks.
    public struct Tolerances: Sendable {
        /// Direction cosines closer than this are the same orientation.
        public var orientation: Double = 1e-3
        /// Relative deviation from the median slice spacing still called even (and at least `spacingMM`).
        public var spacingFraction: Double = 0.01
        /// Absolute spacing tolerance in mm.
        public var spacingMM: Double = 0.01
        /// 1 − |cos(angle)| between the slice direction and the normal above which a stack counts as tilted.
        public var tilt: Double = 1e-4
        /// Default tolerances.
        public init() {}
    }

    /// Splits `slices` into stacks and sorts and checks each one.
    public static func stacks(from slices: [DICOMSlice], tolerances: Tolerances = Tolerances()) -> [DICOMStack] {
        var groups: [String: [DICOMSlice]] = [:]
        var order: [String] = []
        for slice in slices {
            let key = groupKey(slice, tolerances)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(slice)
        }
        var stacks = mergeVolumes(order.compactMap { groups[$0] }.flatMap(splitRepeatedAcquisitions).map { check($0, tolerances) }, tolerances)
        warnAboutSharedSeriesUIDs(&stacks)
        return stacks
    }

    /// Adds a problem to every stack whose SeriesInstanceUID is also used by another patient or study.
    static func warnAboutSharedSeriesUIDs(_ stacks: inout [DICOMStack]) {
        var owners: [String: Set<[String]>] = [:]
        for s in stacks { owners[s.header.seriesInstanceUID, default: []].insert([s.header.patientID, s.header.studyInstanceUID]) }
        for n in stacks.indices {
            let h = stacks[n].header
            guard let o = owners[h.seriesInstanceUID], o.count > 1 else { continue }
            let patients = Set(o.map { $0[0] }).count, studies = Set(o.map { $0[1] }).count
            stacks[n].problems.append("SeriesInstanceUID \(h.seriesInstanceUID) is shared by \(patients) patient(s) in \(studies) study(ies); split by patient and study, never mixed in one volume")
        }
    }

    /// A series acquired more than once over the same positions (AcquisitionNumber differs, positions
    /// repeat) becomes one stack per acquisition instead of one stack full of duplicates. An MR diffusion
    /// group (one b-value and direction) of one acquisition whose every position holds the same number k > 1
    /// of distinct images with distinct InstanceNumbers (repeated b = 0 volumes) becomes k stacks: the n-th
    /// image at each position, by InstanceNumber, then frame, then file order, belongs to the n-th. Without a
    /// b-value such images stay duplicates: copies of one image (re-encoded, exported twice) look the same.
    static func splitRepeatedAcquisitions(_ group: [DICOMSlice]) -> [[DICOMSlice]] {
        if group[0].header.isMosaic { return [group] }
        guard let normal = group[0].normal else { return [group] }
        let positions = group.compactMap { $0.position.map { (($0 * normal).sum() * 1000).rounded() } }
        guard Set(positions).count < positions.count else { return [group] }
        let acquisitions = Set(group.map { $0.header.acquisitionNumber ?? 0 })
        if acquisitions.count > 1 {
            var byAcquisition: [Int: [DICOMSlice]] = [:]
            for s in group { byAcquisition[s.header.acquisitionNumber ?? 0, default: []].append(s) }
            return byAcquisition.keys.sorted().compactMap { byAcquisition[$0] }.flatMap(splitRepeatedAcquisitions)
        }
        return splitRepeatedImages(group, positions: positions)
    }

    /// The diffusion rule of `splitRepeatedAcquisitions` for one acquisition; `[group]` when it does not apply.
    static func splitRepeatedImages(_ group: [DICOMSlice], positions: [Double]) -> [[DICOMSlice]] {
        guard group.allSatisfy({ $0.header.modality == "MR" && $0.header.diffusionBValue != nil }), positions.count == group.count else { return [group] }
        var atPosition: [Double: [Int]] = [:]
        var seen = Set<[String]>()
        for (n, s) in group.enumerated() where seen.insert([s.header.sopInstanceUID, String(s.frame)]).inserted || s.header.sopInstanceUID.isEmpty {
            atPosition[positions[n], default: []].append(n)
        }
        let counts = Set(atPosition.values.map(\.count))
        guard counts.count == 1, let k = counts.first, k > 1 else { return [group] }
        // Copies of one image exported twice usually share their InstanceNumber; repeated volumes number
        // their images apart.
        for members in atPosition.values {
            let numbers = members.compactMap { n in group[n].header.instanceNumber.map { [$0, group[n].frame] } }
            guard numbers.count == members.count, Set(numbers).count == k else { return [group] }
        }
        var volumes = [[DICOMSlice]](repeating: [], count: k)
        for members in atPosition.values {
            let ordered = members.sorted { a, b in
                let x = group[a], y = group[b]
                return [x.header.instanceNumber ?? Int.max, x.frame, a].lexicographicallyPrecedes([y.header.instanceNumber ?? Int.max, y.frame, b])
            }
            for (v, n) in ordered.enumerated() { volumes[v].append(group[n]) }
        }
        return volumes.map { v in v.sorted { a, b in (a.header.instanceNumber ?? Int.max, a.frame) < (b.header.instanceNumber ?? Int.max, b.frame) } }
    }

    /// Slices of one stack share series, size, pixel format, orientation, spacing, echo and temporal position.
    static func groupKey(_ s: DICOMSlice, _ t: Tolerances) -> String {
        let h = s.header
        func q(_ v: Double, _ step: Double) -> String { Int(checkedRounding: v / step).map(String.init) ?? "\(v)" }
        let o = s.orientation.map { $0.map { q($0, t.orientation * 10) }.joined(separator: ",") } ?? "none"
        let ps = s.pixelSpacing.map { $0.map { q($0, 1e-4) }.joined(separator: ",") } ?? "none"
        // Images without geometry cannot be stacked with others: one stack per file.
        // Mosaics are whole volumes: those at the same position and tiling form one time series.
        var lone = s.position == nil || s.orientation == nil ? s.path : ""
        if h.isMosaic, lone.isEmpty, let p = s.position {
            lone = "mosaic \(h.mosaicImages) at " + [p.x, p.y, p.z].map { q($0, 1e-3) }.joined(separator: ",")
        }
        // Patient and study are part of the key: a SeriesInstanceUID reused across patients or studies
        // (anonymisation tools and broken exports do this) must never merge their images into one volume.
        return [h.seriesInstanceUID, h.patientID, h.studyInstanceUID, "\(h.rows)x\(h.columns)", "\(h.samplesPerPixel)/\(h.bitsAllocated)/\(h.pixelRepresentation)",
                o, ps, "e\(h.echoNumber ?? 0)", "t\(h.temporalPosition ?? 0)", diffusionKey(h), lone].joined(separator: "|")
    }

    /// The diffusion weighting of a slice as text ("" without one): slices of different weightings are
    /// different volumes, never duplicates of each other.
    static func diffusionKey(_ h: DICOMHeader) -> String {
        guard !h.isMosaic, let b = h.diffusionBValue else { return "" }
        func q(_ v: Double) -> String { Int(checkedRounding: v * 1e4).map(String.init) ?? "\(v)" }
        let g = h.diffusionGradient.map { $0.map(q).joined(separator: ",") } ?? "-"
        return "b\(q(b))g\(g)"
    }

    /// Stacks of one series over the same positions that differ in temporal position or diffusion weighting
    /// become one stack of several volumes (fMRI, DWI, perfusion), ordered by TemporalPositionIdentifier,
    /// then AcquisitionNumber, then the lowest InstanceNumber of each volume. MR stacks that differ only in
    /// AcquisitionNumber or repeat one weighting (a classic fMRI run, repeated b = 0 volumes) are merged too,
    /// as dcm2niix does; other stacks that differ only in AcquisitionNumber (a CT scanned twice) stay apart,
    /// one 3D case each, where dcm2niix would stack them in 4D.
    static func mergeVolumes(_ stacks: [DICOMStack], _ t: Tolerances) -> [DICOMStack] {
        func q(_ v: Double, _ step: Double) -> String { Int(checkedRounding: v / step).map(String.init) ?? "\(v)" }
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (n, s) in stacks.enumerated() where s.isRegular && !s.header.isMosaic && s.laterVolumes.isEmpty && s.header.samplesPerPixel == 1 {
            let positions = s.slices.compactMap(\.position)
            guard positions.count == s.slices.count, !positions.isEmpty else { continue }
            let h = s.header
            let o = s.slices[0].orientation.map { $0.map { q($0, t.orientation * 10) }.joined(separator: ",") } ?? "none"
            let ps = s.slices[0].pixelSpacing.map { $0.map { q($0, 1e-4) }.joined(separator: ",") } ?? "none"
            let where_ = positions.map { p in [p.x, p.y, p.z].map { q($0, 1e-2) }.joined(separator: ",") }.joined(separator: ";")
            let key = [h.seriesInstanceUID, h.patientID, h.studyInstanceUID, "\(h.rows)x\(h.columns)",
                       "\(h.samplesPerPixel)/\(h.bitsAllocated)/\(h.pixelRepresentation)", o, ps, "e\(h.echoNumber ?? 0)", where_].joined(separator: "|")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(n)
        }
        var merged: [Int: DICOMStack] = [:]
        var absorbed = Set<Int>()
        for key in order {
            guard let members = groups[key], members.count > 1 else { continue }
            let headers = members.map { stacks[$0].header }
            guard headers.allSatisfy({ $0.modality == "MR" }) || Set(headers.map { $0.temporalPosition ?? -1 }).count > 1
                    || Set(headers.map(diffusionKey)).count > 1 else { continue }
            let sorted = members.sorted { a, b in
                let x = stacks[a], y = stacks[b]
                let kx = [x.header.temporalPosition ?? 0, x.header.acquisitionNumber ?? 0, x.slices.compactMap(\.header.instanceNumber).min() ?? Int.max, a]
                let ky = [y.header.temporalPosition ?? 0, y.header.acquisitionNumber ?? 0, y.slices.compactMap(\.header.instanceNumber).min() ?? Int.max, b]
                return kx.lexicographicallyPrecedes(ky)
            }
            var base = stacks[sorted[0]]
            for n in sorted.dropFirst() {
                base.laterVolumes.append(stacks[n].slices)
                base.problems += stacks[n].problems.filter { !base.problems.contains($0) }
                base.droppedDuplicates += stacks[n].droppedDuplicates
                absorbed.insert(n)
            }
            merged[sorted[0]] = base
        }
        return stacks.indices.compactMap { n in absorbed.contains(n) ? nil : (merged[n] ?? stacks[n]) }
    }

    /// More missing slices than this in one gap is not a gap but uneven spacing (no stack is that sparse).
    static let maximumMissing = 10_000

    static func check(_ input: [DICOMSlice], _ t: Tolerances) -> DICOMStack {
        if input[0].header.isMosaic && input[0].position != nil { return mosaicSeries(input) }
        guard let normal = input[0].normal, input.allSatisfy({ $0.position != nil }) else {
            return DICOMStack(slices: input, problems: [], sliceSpacing: nil, isRegular: true, irregularity: nil)
        }
        func key(_ s: DICOMSlice) -> Double { s.position.map { ($0 * normal).sum() } ?? 0 }
        let sorted = input.enumerated().sorted { a, b in
            let ka = key(a.element), kb = key(b.element)
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
        var problems: [String] = []
        // Duplicates: same position. The same SOP instance twice is silently one; different instances are reported.
        var slices: [DICOMSlice] = []
        var dropped: [(path: String, kept: String)] = []
        for s in sorted {
            if let last = slices.last, abs(key(s) - key(last)) < 1e-3 {
                let sameInstance = s.header.sopInstanceUID == last.header.sopInstanceUID && s.frame == last.frame
                if !sameInstance {
                    problems.append("duplicate slice at \(fmt(key(s))) mm along the normal: \(s.path) has the position of \(last.path); kept the first")
                    if s.path != last.path { dropped.append((s.path, last.path)) }
                }
                continue
            }
            slices.append(s)
        }
        guard slices.count > 1 else {
            return DICOMStack(slices: slices, problems: problems, sliceSpacing: nil, isRegular: true, irregularity: nil,
                              droppedDuplicates: dropped)
        }
        let keys = slices.map(key)
        let gaps = zip(keys.dropFirst(), keys).map { $0 - $1 }
        let median = gaps.sorted()[gaps.count / 2]
        let tolerance = max(t.spacingMM, t.spacingFraction * median)
        var irregular: [String] = []
        var missing = 0
        for (n, g) in gaps.enumerated() where abs(g - median) > tolerance {
            let ratio = g / median
            if ratio > 1.5 && abs(ratio - ratio.rounded()) * median <= tolerance, let whole = Int(checkedRounding: ratio), whole <= maximumMissing {
                let count = whole - 1
                missing += count
                problems.append("\(count) missing slice\(count == 1 ? "" : "s") between \(fmt(keys[n])) and \(fmt(keys[n + 1])) mm (after \(slices[n].path))")
            } else {
                irregular.append(fmt(g))
            }
        }
        if !irregular.isEmpty {
            problems.append("uneven slice spacing: median \(fmt(median)) mm, but gaps of \(irregular.prefix(5).joined(separator: ", ")) mm")
        }
        // Tilt: the line through the slice positions must follow the normal.
        let first = slices[0].position ?? .zero, last = slices[slices.count - 1].position ?? .zero
        let direction = last - first
        let length = (direction * direction).sum().squareRoot()
        var tilt: String?
        if length > 0 {
            let cosine = abs((direction * normal).sum()) / length
            if 1 - cosine > t.tilt {
                let degrees = acosDegrees(min(1, cosine))
                tilt = "the slices are sheared by \(fmt(degrees))° (gantry tilt\(slices[0].header.gantryTilt.map { " \(fmt($0))° in the header" } ?? ""))"
                problems.append(tilt ?? "")
            }
        }
        let spacing = (keys[keys.count - 1] - keys[0]) / Double(keys.count - 1 + missing)
        var reason: String?
        if missing > 0 { reason = "\(missing) slice(s) are missing" }
        if !irregular.isEmpty { reason = "slice spacing is uneven" }
        if let tilt { reason = tilt }
        return DICOMStack(slices: slices, problems: problems, sliceSpacing: missing > 0 ? median : spacing,
                          isRegular: reason == nil, irregularity: reason, isTilted: tilt != nil, droppedDuplicates: dropped)
    }

    /// MOSAIC files of one series at one position: each is a volume, ordered in time by InstanceNumber, then
    /// AcquisitionNumber, then the order found. The same SOP instance twice is kept once.
    static func mosaicSeries(_ input: [DICOMSlice]) -> DICOMStack {
        let sorted = input.enumerated().sorted { a, b in
            let x = a.element.header, y = b.element.header
            let kx = [x.instanceNumber ?? Int.max, x.acquisitionNumber ?? Int.max, a.offset]
            let ky = [y.instanceNumber ?? Int.max, y.acquisitionNumber ?? Int.max, b.offset]
            return kx.lexicographicallyPrecedes(ky)
        }.map(\.element)
        var seen = Set<String>()
        var files: [DICOMSlice] = []
        var problems: [String] = []
        var dropped: [(path: String, kept: String)] = []
        for s in sorted {
            let uid = s.header.sopInstanceUID
            if !uid.isEmpty, seen.contains(uid) {
                let kept = files.first { $0.header.sopInstanceUID == uid }?.path ?? ""
                if s.path != kept {
                    problems.append("\(s.path) is the same MOSAIC instance as \(kept); kept the first")
                    dropped.append((s.path, kept))
                }
                continue
            }
            seen.insert(uid)
            files.append(s)
        }
        let instances = files.compactMap(\.header.instanceNumber)
        if Set(instances).count < instances.count {
            problems.append("MOSAIC volumes share InstanceNumbers; ordered by AcquisitionNumber and file order among those")
        }
        return DICOMStack(slices: files, problems: problems, sliceSpacing: nil, isRegular: true, irregularity: nil,
                          droppedDuplicates: dropped)
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? (Int(checkedRounding: r).map(String.init) ?? "\(r)") : "\(r)"
    }

    static func acosDegrees(_ c: Double) -> Double { acos(c) * 180 / .pi }
}
