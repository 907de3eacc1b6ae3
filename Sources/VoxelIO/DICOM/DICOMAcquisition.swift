import CDCMTK

/// Acquisition attributes of one DICOM file that a sidecar or a diffusion table needs, read without the pixel
/// data: values by DICOM keyword (text as DCMTK gives it, several values joined by backslashes) and items of
/// the Siemens CSA image header by name.
public struct DICOMAcquisition: Sendable, Equatable {
    /// Top-level attributes read, by keyword. Absent ones are not in the dictionary.
    public var values: [String: String]
    /// CSA image-header items by element name (absent ones are not in the dictionary).
    public var csa: [String: [String]]

    /// Attributes as given (for tests and callers that read them elsewhere).
    public init(values: [String: String], csa: [String: [String]] = [:]) {
        self.values = values
        self.csa = csa
    }

    /// Attributes read from every file: keyword and tag (group << 16 | element).
    static let attributes: [(keyword: String, tag: UInt32)] = [
        ("Modality", 0x0008_0060), ("Manufacturer", 0x0008_0070), ("ManufacturersModelName", 0x0008_1090),
        ("SoftwareVersions", 0x0018_1020), ("MagneticFieldStrength", 0x0018_0087), ("ImagingFrequency", 0x0018_0084),
        ("BodyPartExamined", 0x0018_0015), ("PatientPosition", 0x0018_5100), ("PerformedProcedureStepDescription", 0x0040_0254),
        ("StudyDescription", 0x0008_1030), ("SeriesDescription", 0x0008_103E), ("ProtocolName", 0x0018_1030),
        ("ScanningSequence", 0x0018_0020), ("SequenceVariant", 0x0018_0021), ("ScanOptions", 0x0018_0022),
        ("SequenceName", 0x0018_0024), ("MRAcquisitionType", 0x0018_0023), ("ImageType", 0x0008_0008),
        ("SeriesNumber", 0x0020_0011), ("AcquisitionNumber", 0x0020_0012), ("InstanceNumber", 0x0020_0013),
        ("AcquisitionTime", 0x0008_0032), ("SeriesTime", 0x0008_0031), ("AcquisitionDate", 0x0008_0022),
        ("SliceThickness", 0x0018_0050), ("SpacingBetweenSlices", 0x0018_0088), ("EchoTime", 0x0018_0081),
        ("RepetitionTime", 0x0018_0080), ("InversionTime", 0x0018_0082), ("FlipAngle", 0x0018_1314),
        ("EchoNumbers", 0x0018_0086), ("EchoTrainLength", 0x0018_0091), ("PixelBandwidth", 0x0018_0095),
        ("PercentPhaseFieldOfView", 0x0018_0094), ("PercentSampling", 0x0018_0093),
        ("NumberOfPhaseEncodingSteps", 0x0018_0089), ("AcquisitionMatrix", 0x0018_1310),
        ("InPlanePhaseEncodingDirection", 0x0018_1312), ("ReceiveCoilName", 0x0018_1250),
        ("SAR", 0x0018_1316), ("DiffusionBValue", 0x0018_9087), ("DiffusionGradientOrientation", 0x0018_9089),
        ("DiffusionDirectionality", 0x0018_9075), ("ConvolutionKernel", 0x0018_1210), ("KVP", 0x0018_0060),
        ("ExposureTime", 0x0018_1150), ("XRayTubeCurrent", 0x0018_1151), ("ContrastBolusAgent", 0x0018_0010),
        ("ReconstructionDiameter", 0x0018_1100), ("Units", 0x0054_1001), ("DecayCorrection", 0x0054_1102),
        ("AttenuationCorrectionMethod", 0x0054_1101), ("ReconstructionMethod", 0x0054_1103),
        // Identifiers: only written to a sidecar when asked.
        ("InstitutionName", 0x0008_0080), ("InstitutionAddress", 0x0008_0081), ("StationName", 0x0008_1010),
        ("InstitutionalDepartmentName", 0x0008_1040), ("DeviceSerialNumber", 0x0018_1000),
        ("PatientName", 0x0010_0010), ("PatientID", 0x0010_0020), ("PatientBirthDate", 0x0010_0030),
        ("PatientSex", 0x0010_0040), ("PatientAge", 0x0010_1010), ("PatientWeight", 0x0010_1030),
        ("AccessionNumber", 0x0008_0050), ("StudyDate", 0x0008_0020), ("StudyID", 0x0020_0010),
        ("StudyInstanceUID", 0x0020_000D), ("SeriesInstanceUID", 0x0020_000E),
    ]

    /// CSA image-header elements read.
    static let csaNames = ["B_value", "DiffusionGradientDirection", "MosaicRefAcqTimes", "PhaseEncodingDirectionPositive",
                           "BandwidthPerPixelPhaseEncode", "NumberOfImagesInMosaic", "SliceNormalVector"]

    /// Reads the attributes of the file at `path`.
    /// - Throws: `DICOMError` when the file cannot be read.
    public static func read(_ path: String) throws -> DICOMAcquisition {
        let tags = attributes.map(\.tag)
        var err = [CChar](repeating: 0, count: 512)
        var capacity = 1 << 16
        while true {
            var out = [CChar](repeating: 0, count: capacity)
            let status = withCStrings(csaNames) { names in
                vf_dicom_read_attributes(path, tags, Int32(tags.count), names, Int32(csaNames.count), &out, capacity, &err, err.count)
            }
            if status == 2 && capacity < 1 << 24 { capacity *= 4; continue }
            guard status == 0 else { throw DICOMError(path: path, reason: DICOMFile.message(err)) }
            var fields: [String] = []
            var start = 0
            for n in 0..<(tags.count + csaNames.count) {
                var end = start
                while end < out.count && out[end] != 0 { end += 1 }
                fields.append(String(decoding: out[start..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
                start = end + 1
                if start > out.count { fields += Array(repeating: "", count: tags.count + csaNames.count - n - 1); break }
            }
            var values: [String: String] = [:]
            for (n, a) in attributes.enumerated() where !fields[n].isEmpty { values[a.keyword] = fields[n] }
            var csa: [String: [String]] = [:]
            for (n, name) in csaNames.enumerated() where !fields[tags.count + n].isEmpty {
                csa[name] = fields[tags.count + n].split(separator: "\\", omittingEmptySubsequences: false).map(String.init)
            }
            return DICOMAcquisition(values: values, csa: csa)
        }
    }

    /// A value as a number (the first of several).
    public func number(_ keyword: String) -> Double? {
        values[keyword].flatMap { Self.firstNumber($0) }
    }

    /// All values of a multi-valued attribute as numbers; nil when absent or not numeric.
    public func numbers(_ keyword: String) -> [Double]? {
        guard let v = values[keyword] else { return nil }
        let parts = v.split(separator: "\\").map { Double($0.trimmingCharacters(in: [" "])) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.compactMap { $0 }
    }

    /// A CSA item as numbers.
    public func csaNumbers(_ name: String) -> [Double]? {
        guard let items = csa[name], !items.isEmpty else { return nil }
        let parsed = items.map { Double($0.trimmingCharacters(in: [" "])) }
        guard parsed.allSatisfy({ $0 != nil }) else { return nil }
        return parsed.compactMap { $0 }
    }

    static func firstNumber(_ s: String) -> Double? {
        Double((s.split(separator: "\\").first.map(String.init) ?? s).trimmingCharacters(in: [" "]))
    }

    /// The diffusion weighting of the file: b-value (s/mm²) and gradient direction (unit vector, LPS patient
    /// frame; nil when the file gives none, as for b = 0 or trace images), from the standard Diffusion
    /// attributes (0018,9087)/(0018,9089) or the Siemens CSA header. nil when the file has no b-value.
    public var diffusion: (bValue: Double, gradient: SIMD3<Double>?)? {
        guard let b = number("DiffusionBValue") ?? csaNumbers("B_value")?.first else { return nil }
        var g: SIMD3<Double>?
        if let v = numbers("DiffusionGradientOrientation") ?? csaNumbers("DiffusionGradientDirection"), v.count == 3 {
            let vector = SIMD3(v[0], v[1], v[2])
            let length = (vector * vector).sum().squareRoot()
            if length > 1e-6 { g = vector / length }
        }
        return (b, g)
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { s -> UnsafeMutablePointer<CChar> in
        let bytes = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return p
    }
    defer { copies.forEach { $0.deallocate() } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
