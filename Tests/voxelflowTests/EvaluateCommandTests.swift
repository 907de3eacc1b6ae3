import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO

/// `voxelflow evaluate`: files and folders, the tables it writes, and how it fails.
@Suite("voxelflow evaluate")
struct EvaluateCommandTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/metrics"

    static func run(_ args: [String]) -> Subprocess.Result {
        Subprocess.run([TestPaths.voxelflowExecutable, "evaluate"] + args)
    }

    /// Rows of a CSV text keyed by (case, label), as column → text.
    static func table(_ csv: String) -> [String: [String: String]] {
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [:] }
        var out: [String: [String: String]] = [:]
        for row in lines.dropFirst() where row.count == header.count {
            out["\(row[0])/\(row[1])"] = Dictionary(uniqueKeysWithValues: zip(header, row))
        }
        return out
    }

    /// MONAI's values for the synthetic case (Tests/Fixtures/metrics/oracle.json).
    static func oracle() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/oracle.json"))
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let cases = root?["cases"] as? [String: Any]
        let synthetic = cases?["synthetic"] as? [String: Any]
        return try #require(synthetic?["labels"] as? [String: [String: Any]])
    }

    @Test("Two files: CSV on standard output with MONAI's values, the case named after the reference")
    func files() throws {
        let r = Self.run([Self.fixtures + "/synthetic_pred.nii.gz", Self.fixtures + "/synthetic_ref.nii.gz", "--format", "csv", "--labels", "1", "2", "5", "6"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = Self.table(r.stdout)
        #expect(rows.count == 4)
        let oracle = try Self.oracle()
        for label in ["1", "2", "5"] {
            let row = try #require(rows["synthetic_ref/\(label)"])
            let o = try #require(oracle[label])
            for (ours, theirs) in [("dice", "dice"), ("iou", "iou"), ("hausdorff_mm", "hausdorff"), ("hausdorff95_mm", "hausdorff95"),
                                   ("assd_mm", "averageSurfaceDistance"), ("surface_dice_1mm", "surfaceDice1mm")] {
                let a = try #require(Double(row[ours] ?? ""), "label \(label) \(ours)")
                let b = try #require(o[theirs] as? Double)
                #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "label \(label) \(ours): \(a) against MONAI's \(b)")
            }
        }
        #expect(rows["synthetic_ref/6"]?["presence"] == "neither" && rows["synthetic_ref/6"]?["precision"] == "")
    }

    @Test("Folders: cases paired by name, a missing prediction fails that case only (exit 4), tables written to --output and never replaced without --force")
    func folders() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let fm = FileManager.default
        for sub in ["pred", "ref"] { try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true) }
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_pred.nii.gz", toPath: "\(dir)/pred/a.nii.gz")
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_ref.nii.gz", toPath: "\(dir)/ref/a.nii.gz")
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_ref.nii.gz", toPath: "\(dir)/pred/b.nii.gz")
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_ref.nii.gz", toPath: "\(dir)/ref/b.nii.gz")
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_ref.nii.gz", toPath: "\(dir)/ref/missing.nii.gz")
        try fm.copyItem(atPath: Self.fixtures + "/synthetic_ref.nii.gz", toPath: "\(dir)/pred/extra.nii.gz")
        let r = Self.run(["\(dir)/pred", "\(dir)/ref", "--labels", "1", "3", "-o", "\(dir)/out"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("case missing failed: no prediction"), "\(r.stderr)")
        #expect(r.stderr.contains("extra.nii.gz: no reference"), "\(r.stderr)")
        let cases = Self.table(try String(contentsOfFile: "\(dir)/out/metrics.csv", encoding: .utf8))
        #expect(Set(cases.keys) == ["a/1", "a/3", "b/1", "b/3"])
        #expect(cases["b/1"]?["dice"] == "1" && cases["b/1"]?["hausdorff_mm"] == "0")
        #expect(cases["a/3"]?["presence"] == "reference-only" && cases["a/3"]?["dice"] == "0")
        // The summary: Dice of label 1 over the two cases: mean of MONAI's value and 1.
        let summary = try String(contentsOfFile: "\(dir)/out/metrics-summary.csv", encoding: .utf8)
        let dice1 = try #require(summary.split(separator: "\n").first { $0.hasPrefix("1,,dice,") }).split(separator: ",", omittingEmptySubsequences: false)
        let monai = try #require(try Self.oracle()["1"]?["dice"] as? Double)
        #expect(dice1[3] == "2" && dice1[4] == "0")
        #expect(abs((Double(dice1[5]) ?? 0) - (monai + 1) / 2) < 1e-6)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/out/metrics.json"))) as? [String: Any]
        #expect((json?["cases"] as? [Any])?.count == 2 && (json?["failed"] as? [Any])?.count == 1)
        // A second run does not replace the tables without --force.
        let before = fm.contents(atPath: "\(dir)/out/metrics.csv")
        let again = Self.run(["\(dir)/pred", "\(dir)/ref", "-o", "\(dir)/out"])
        #expect(again.status == 3 && again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(fm.contents(atPath: "\(dir)/out/metrics.csv") == before)
        let forced = Self.run(["\(dir)/pred", "\(dir)/ref", "--labels", "1", "-o", "\(dir)/out", "--force"])
        #expect(forced.status == 4)
        #expect(fm.contents(atPath: "\(dir)/out/metrics.csv") != before)
    }

    @Test("Different grids are refused with both named, unless --resample; unreadable input is exit 2 naming the file")
    func refusals() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        var shifted = try NIfTI.read(Self.fixtures + "/synthetic_pred.nii.gz").volume
        shifted.geometry.origin.x += 1.6  // exactly two voxels along i
        try NIfTI.write(shifted, to: "\(dir)/shifted.nii.gz")
        let ref = Self.fixtures + "/synthetic_ref.nii.gz"
        let refused = Self.run(["\(dir)/shifted.nii.gz", ref])
        #expect(refused.status == 2 && refused.stderr.contains("different voxel-to-world mappings") && refused.stderr.contains("--resample"), "\(refused.stderr)")
        let resampled = Self.run(["\(dir)/shifted.nii.gz", ref, "--resample", "--labels", "1", "--format", "csv"])
        #expect(resampled.status == 0, "\(resampled.stderr)")
        #expect(Self.table(resampled.stdout)["synthetic_ref/1"]?["predicted_voxels"] != nil)
        try Data("not a nifti".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.nii"))
        let bad = Self.run(["\(dir)/bad.nii", ref])
        #expect(bad.status == 2 && bad.stderr.contains("bad.nii"), "\(bad.stderr)")
        // Fractional values are not labels: the file and the voxel are named.
        let fractional = try Volume(geometry: shifted.geometry, voxels: .float32([Float](repeating: 0.5, count: shifted.geometry.voxelCount)))
        try NIfTI.write(fractional, to: "\(dir)/fractional.nii.gz")
        let notLabels = Self.run(["\(dir)/fractional.nii.gz", ref])
        #expect(notLabels.status == 2 && notLabels.stderr.contains("fractional.nii.gz") && notLabels.stderr.contains("not a label"), "\(notLabels.stderr)")
        let mixed = Self.run([dir, ref])
        #expect(mixed.status == 2 && mixed.stderr.contains("two files or two folders"), "\(mixed.stderr)")
    }

    @Test("An RT Structure Set is drawn on the other file's grid and its ROIs numbered by name: the contours of a label map give it back exactly")
    func rtstruct() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let series = TestPaths.sampleData + "/dicom/ct_head_implicit"
        let convert = Subprocess.run([TestPaths.voxelflowExecutable, "convert", series, dir + "/ct.nii.gz", "-q"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let ct = try NIfTI.read(dir + "/ct.nii.gz").volume
        let hu = ct.physicalFloats()
        // Label 3 "Skull" (bone above 300 HU) and label 7 "Scalp" (soft tissue), so values differ from ROI order.
        let labels = hu.map { $0 > 300 ? UInt8(3) : ($0 > -100 && $0 < 100 ? UInt8(7) : 0) }
        try NIfTI.write(Volume(geometry: ct.geometry, voxels: .uint8(labels)), to: dir + "/labels.nii.gz")
        let table = #"{"labels": [{"value": 3, "name": "Skull"}, {"value": 7, "name": "Scalp"}]}"#
        try table.write(toFile: dir + "/table.json", atomically: true, encoding: .utf8)
        let export = Subprocess.run([TestPaths.voxelflowExecutable, "export-rtstruct", dir + "/labels.nii.gz", "--reference", series,
                                     "-o", dir + "/rt.dcm", "--label-table", dir + "/table.json", "-q"])
        #expect(export.status == 0, "\(export.stderr)")
        let r = Self.run([dir + "/rt.dcm", dir + "/labels.nii.gz", "--label-table", dir + "/table.json", "--format", "csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = Self.table(r.stdout)
        for (label, name) in [("3", "Skull"), ("7", "Scalp")] {
            let row = try #require(rows["labels/\(label)"], "\(r.stdout)")
            #expect(row["name"] == name && row["dice"] == "1" && row["hausdorff_mm"] == "0", "\(row)")
            #expect(Int(row["reference_voxels"] ?? "") == labels.filter { String($0) == label }.count)
        }
        // Without a table the ROIs keep their order in the file (1, 2), which matches nothing here.
        let unnamed = Self.run([dir + "/rt.dcm", dir + "/labels.nii.gz", "--labels", "1", "3", "--format", "csv"])
        #expect(Self.table(unnamed.stdout)["labels/3"]?["presence"] == "reference-only", "\(unnamed.stdout)")
        try #"{"labels": [{"value": 3, "name": "Bone"}]}"#.write(toFile: dir + "/other.json", atomically: true, encoding: .utf8)
        let wrong = Self.run([dir + "/rt.dcm", dir + "/labels.nii.gz", "--label-table", dir + "/other.json"])
        #expect(wrong.status == 2 && wrong.stderr.contains("ROI \"Skull\" is not named in the label table"), "\(wrong.stderr)")
        let both = Self.run([dir + "/rt.dcm", dir + "/rt.dcm"])
        #expect(both.status == 2 && both.stderr.contains("both RT Structure Sets"), "\(both.stderr)")
    }

    @Test("A DICOM SEG prediction (highdicom's head CT bone SEG) against the NIfTI bone mask it was made from",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
    func dicomSEG() throws {
        let seg = TestPaths.sharedData + "/dicom/seg/ct_head_bone_seg_binary.dcm"
        let mask = TestPaths.sharedData + "/nifti/ct_head/ct_head_mask_bone.nii.gz"
        let r = Self.run([seg, mask, "--resample", "--format", "csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let row = try #require(Self.table(r.stdout)["ct_head_mask_bone/1"], "\(r.stdout)")
        #expect(Double(row["dice"] ?? "") ?? 0 > 0.999, "\(row)")
        #expect(row["presence"] == "both")
    }

    @Test("evaluate-classification: scikit-learn's numbers in the files, the ROC picture as a PNG; a case without prediction fails (exit 4)")
    func classification() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let predictions = Self.fixtures + "/classification_three_predictions.csv"
        let truth = Self.fixtures + "/classification_three_truth.csv"
        let r = Subprocess.run([TestPaths.voxelflowExecutable, "evaluate-classification", predictions, truth, "-o", dir + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("accuracy 0.6167"), "\(r.stdout)")
        let oracleData = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/classification_oracle.json"))
        let oracle = try #require((try JSONSerialization.jsonObject(with: oracleData) as? [String: Any])?["three"] as? [String: Any])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/classification.json"))) as? [String: Any])
        for (ours, theirs) in [("accuracy", "accuracy"), ("balanced_accuracy", "balancedAccuracy"), ("macro_f1", "macroF1"), ("macro_auc", "macroAUC")] {
            let a = try #require(json[ours] as? Double), b = try #require(oracle[theirs] as? Double)
            #expect(abs(a - b) < 1e-12, "\(ours): \(a) against scikit-learn's \(b)")
        }
        #expect(json["confusion_matrix"] as? [[Int]] == oracle["confusion"] as? [[Int]])
        let confusion = try String(contentsOfFile: dir + "/out/confusion-matrix.csv", encoding: .utf8)
        #expect(confusion.hasPrefix("true \\ predicted,ct,mr-t1,other\nct,11,2,2\n"), "\(confusion)")
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/roc.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(Array(png[16..<24]) == [0, 0, 1, 0x90, 0, 0, 1, 0x90], "400 × 400 pixels")

        // One more reference case than predictions: that case fails, the others are still measured.
        var lines = try String(contentsOfFile: truth, encoding: .utf8)
        lines += "case999,ct\n"
        try lines.write(toFile: dir + "/truth.csv", atomically: true, encoding: .utf8)
        let partial = Subprocess.run([TestPaths.voxelflowExecutable, "evaluate-classification", predictions, dir + "/truth.csv", "--format", "json"])
        #expect(partial.status == 4 && partial.stderr.contains("case999 failed: no prediction"), "\(partial.stderr)")
        #expect(partial.stdout.contains("\"cases\": 60"), "\(partial.stdout.prefix(200))")
        try "case,predicted,score_ct\ncase000,ct,high\n".write(toFile: dir + "/scores.csv", atomically: true, encoding: .utf8)
        let badScore = Subprocess.run([TestPaths.voxelflowExecutable, "evaluate-classification", dir + "/scores.csv", truth])
        #expect(badScore.status == 2 && badScore.stderr.contains("scores.csv: line 2: score_ct \"high\" is not a number"), "\(badScore.stderr)")
        let bad = Subprocess.run([TestPaths.voxelflowExecutable, "evaluate-classification", truth, truth])
        #expect(bad.status == 2 && bad.stderr.contains("\"case\" and \"predicted\" columns"), "\(bad.stderr)")
    }
}
