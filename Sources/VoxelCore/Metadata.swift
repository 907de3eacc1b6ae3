/// Descriptive facts about a volume that are not voxels or geometry.
///
/// Identifiers may be protected health information: code that logs them must ask the user first.
public struct Metadata: Sendable, Equatable, Codable {
    /// DICOM modality ("CT", "MR", "PT", …), or nil when unknown (e.g. most NIfTI files).
    public var modality: String?
    /// Patient identifier (PHI).
    public var patientID: String?
    /// DICOM StudyInstanceUID.
    public var studyInstanceUID: String?
    /// DICOM SeriesInstanceUID.
    public var seriesInstanceUID: String?
    /// Human-readable series description.
    public var seriesDescription: String?
    /// Free-text description (NIfTI `descrip`, at most 79 characters when written to NIfTI).
    public var description: String?
    /// Unit of the physical (scaled) voxel values: "HU", "SUVbw", or nil when unknown/arbitrary.
    public var intensityUnit: String?

    /// Creates metadata; every field is optional.
    public init(modality: String? = nil, patientID: String? = nil, studyInstanceUID: String? = nil,
                seriesInstanceUID: String? = nil, seriesDescription: String? = nil,
                description: String? = nil, intensityUnit: String? = nil) {
        self.modality = modality
        self.patientID = patientID
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.seriesDescription = seriesDescription
        self.description = description
        self.intensityUnit = intensityUnit
    }
}
