import Foundation
import Testing
import TestSupport
import VoxelSupport
@testable import VoxelIO

/// The BIDS data type and suffix guessed from the attributes conversion tools read, run numbering and sessions.
@Suite("BIDS layout of converted series")
struct BIDSLayoutTests {
    static func series(_ modality: String, _ description: String, volumes: Int = 1, diffusion: Bool = false, patient: String = "P-01",
                       date: String = "20240101", study: String = "1.2.3", number: Int = 1) -> BIDSSeries {
        BIDSSeries(acquisition: DICOMAcquisition(values: ["Modality": modality, "SeriesDescription": description, "PatientID": patient,
                                                         "StudyDate": date, "StudyInstanceUID": study, "SeriesNumber": "\(number)"]),
                   volumeCount: volumes, hasDiffusion: diffusion)
    }

    @Test("data type and suffix from modality, volumes, b-values and the description's words",
          arguments: [
            ("MR", "t1_mprage_sag_p2", 1, false, "anat", "T1w"), ("MR", "T2 TSE tra", 1, false, "anat", "T2w"),
            ("MR", "t2_tirm_FLAIR", 1, false, "anat", "FLAIR"), ("MR", "T2* GRE", 1, false, "anat", "T2starw"),
            ("MR", "SWI_Images", 1, false, "anat", "T2starw"), ("MR", "PD TSE", 1, false, "anat", "PDw"),
            ("MR", "ep2d_diff_mddw_30", 31, true, "dwi", "dwi"), ("MR", "DTI 64 directions", 65, false, "dwi", "dwi"),
            ("MR", "ep2d_bold_rest", 200, false, "func", "bold"), ("MR", "fMRI motor task", 120, false, "func", "bold"),
            ("MR", "perfusion", 40, false, "misc", "image"), ("MR", "localizer", 1, false, "misc", "image"),
            ("MR", "t1_mprage", 2, false, "misc", "image"), ("CT", "Head 1.5mm", 1, false, "ct", "ct"),
            ("PT", "PET AC", 1, false, "pet", "pet"), ("US", "Abdomen", 1, false, "misc", "image"),
          ])
    func classify(_ c: (String, String, Int, Bool, String, String)) {
        let got = BIDSLayout.classify(Self.series(c.0, c.1, volumes: c.2, diffusion: c.3))
        #expect(got.datatype == c.4 && got.suffix == c.5, "\(c.1): \(got)")
    }

    @Test("names: labels keep letters and digits, tasks are labelled, clashes are runs by SeriesNumber, two studies on one day get letters")
    func names() {
        let names = BIDSLayout.names(for: [
            Self.series("MR", "t1_mprage", number: 7), Self.series("MR", "T1 MPRAGE repeat", number: 3),
            Self.series("MR", "ep2d_bold_rest", volumes: 10, number: 4), Self.series("MR", "n-back fMRI", volumes: 10, number: 5),
            Self.series("CT", "Head", study: "9.8.7"), Self.series("MR", "Survey", number: 1),
        ])
        #expect(names.map(\.relativeBase) == [
            "sub-P01/ses-20240101a/anat/sub-P01_ses-20240101a_run-2_T1w",
            "sub-P01/ses-20240101a/anat/sub-P01_ses-20240101a_run-1_T1w",
            "sub-P01/ses-20240101a/func/sub-P01_ses-20240101a_task-rest_bold",
            "sub-P01/ses-20240101a/func/sub-P01_ses-20240101a_task-nbackfMRI_bold",
            "sub-P01/ses-20240101b/ct/sub-P01_ses-20240101b_ct",
            "sub-P01/ses-20240101a/misc/sub-P01_ses-20240101a_acq-Survey_image",
        ])
        let given = BIDSLayout.names(for: [Self.series("MR", "t2_tse", date: "")], subject: "01")
        #expect(given.map(\.relativeBase) == ["sub-01/anat/sub-01_T2w"])
        #expect(BIDSLayout.label("Pat/ient_ü 3") == "Patient3")
    }

    /// An MR series with the attributes field maps, multi-echo and phase images are told apart by.
    static func mr(_ description: String, sequence: String = "", imageType: String = "ORIGINAL\\PRIMARY\\M\\ND", echo: Int? = nil,
                   volumes: Int = 1, number: Int = 1) -> BIDSSeries {
        var values = ["Modality": "MR", "SeriesDescription": description, "SequenceName": sequence, "ImageType": imageType,
                      "PatientID": "P-01", "StudyDate": "20240101", "StudyInstanceUID": "1.2.3", "SeriesNumber": "\(number)"]
        if let echo { values["EchoNumbers"] = "\(echo)" }
        return BIDSSeries(acquisition: DICOMAcquisition(values: values), volumeCount: volumes, hasDiffusion: false)
    }

    @Test("field maps, multi-echo, phase images and directions get BIDS's fmap suffixes and dir-, echo- and part- entities")
    func entities() throws {
        let series = [
            Self.mr("gre_field_mapping", sequence: "*fm2d2r", echo: 1, number: 10),
            Self.mr("gre_field_mapping", sequence: "*fm2d2r", echo: 2, number: 10),
            Self.mr("gre_field_mapping", sequence: "*fm2d2r", imageType: "ORIGINAL\\PRIMARY\\P\\ND", echo: 2, number: 11),
            Self.mr("SpinEchoFieldMap_AP", sequence: "*epse2d1_90", volumes: 3, number: 12),
            Self.mr("SpinEchoFieldMap_PA", sequence: "*epse2d1_90", volumes: 3, number: 13),
            Self.mr("ep2d_bold_rest_PA", sequence: "*epfid2d1_64", volumes: 100, number: 14),
            Self.mr("t2star_multiecho", sequence: "*fl3d6", echo: 1, number: 15),
            Self.mr("t2star_multiecho", sequence: "*fl3d6", echo: 2, number: 15),
            Self.mr("t2star_multiecho", sequence: "*fl3d6", echo: 3, number: 15),
            Self.mr("SWI_Images", number: 16),
            Self.mr("SWI_Images", imageType: "ORIGINAL\\PRIMARY\\P\\ND", number: 17),
            Self.mr("t1_mprage", echo: 1, number: 18),
            Self.mr("t1_mprage", echo: 1, number: 19),
        ]
        let names = BIDSLayout.names(for: series)
        let session = "sub-P01/ses-20240101/"
        let expected = [
            "fmap/sub-P01_ses-20240101_magnitude1", "fmap/sub-P01_ses-20240101_magnitude2", "fmap/sub-P01_ses-20240101_phasediff",
            "fmap/sub-P01_ses-20240101_dir-AP_epi", "fmap/sub-P01_ses-20240101_dir-PA_epi",
            "func/sub-P01_ses-20240101_task-rest_dir-PA_bold",
            "anat/sub-P01_ses-20240101_echo-1_T2starw", "anat/sub-P01_ses-20240101_echo-2_T2starw", "anat/sub-P01_ses-20240101_echo-3_T2starw",
            "anat/sub-P01_ses-20240101_part-mag_T2starw", "anat/sub-P01_ses-20240101_part-phase_T2starw",
            // The same echo twice is a repeat, not a multi-echo series: runs.
            "anat/sub-P01_ses-20240101_run-1_T1w", "anat/sub-P01_ses-20240101_run-2_T1w",
        ].map { session + $0 }
        #expect(names.map(\.relativeBase) == expected)
        // The bids-validator package's path rules accept every one of them (each with a .nii.gz).
        guard let python = TestPaths.oraclePython else { return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        for name in names {
            let path = dir + "/" + name.relativeBase + ".nii.gz"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: path))
        }
        let check = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/bids_check.py", dir])
        try #require(check.status == 0, "\(check.stderr)")
        let verdict = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: [String]])
        #expect(verdict["invalid"] == [], "\(verdict)")
        #expect(verdict["valid"]?.count == names.count)
    }

    @Test("the sidecar of a func series gets TaskName first; others stay as they are")
    func taskName() {
        let sidecar = JSON.object([("Modality", .string("MR"))])
        let bold = BIDSName(subject: "1", session: nil, datatype: "func", task: "rest", acquisition: nil, run: nil, suffix: "bold")
        #expect(BIDSLayout.sidecar(sidecar, for: bold) == .object([("TaskName", .string("rest")), ("Modality", .string("MR"))]))
        let t1 = BIDSName(subject: "1", session: nil, datatype: "anat", task: nil, acquisition: nil, run: nil, suffix: "T1w")
        #expect(BIDSLayout.sidecar(sidecar, for: t1) == sidecar)
    }
}
