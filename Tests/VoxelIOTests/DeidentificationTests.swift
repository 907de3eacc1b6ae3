import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

/// Shared inputs of the de-identification tests.
enum DeidFixtures {
    static var folder: String { TestPaths.repositoryRoot + "/Tests/Fixtures/deidentification" }
    static var series: String { TestPaths.sampleData + "/dicom/ct_head_implicit" }
    static let keyText = "this-is-a-secret-key-for-tests!!"
    static var key: DeidentificationKey { get throws { try DeidentificationKey(text: keyText) } }

    static func deidentifier(_ profile: DeidentificationProfile = .basic, key: DeidentificationKey? = nil) throws -> DICOMDeidentifier {
        DICOMDeidentifier(profile: profile, key: try key ?? Self.key)
    }

    /// A folder holding only the planted-identifier file (inputs are folders).
    static func plantedInput() throws -> String {
        let dir = TestPaths.temporaryDirectory("deid-in")
        try FileManager.default.copyItem(atPath: folder + "/identifiers.dcm", toPath: dir + "/identifiers.dcm")
        return dir
    }

    /// Every regular file under `root`, sorted.
    static func files(_ root: String) -> [String] {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return names.map { root + "/" + $0 }.filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }

    static func bytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
}

@Suite("De-identification: PS3.15 Annex E table, keyed UIDs and pseudonyms, profile options")
struct DeidentificationPolicyTests {
    @Test("the compiled Annex E table is the committed table, row for row")
    func tableMatchesData() throws {
        let text = try String(contentsOfFile: DeidFixtures.folder + "/annex-e-table.tsv", encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst(2).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == AnnexE.rows.count)
        #expect(AnnexE.rows.count == 655)
        for (row, compiled) in zip(rows, AnnexE.rows) {
            #expect(UInt16(row[0], radix: 16) == compiled.group && UInt16(row[1], radix: 16) == compiled.element)
            #expect(UInt16(row[2], radix: 16) == compiled.groupMask && UInt16(row[3], radix: 16) == compiled.elementMask)
            #expect(row[4] == compiled.action.rawValue && row[5] == compiled.name)
        }
        #expect(AnnexE.row(group: 0x0010, element: 0x0010)?.action == .z)
        #expect(AnnexE.row(group: 0x0020, element: 0x000D)?.action == .u)
        #expect(AnnexE.row(group: 0x601E, element: 0x3000)?.name == "Overlay Data")
        #expect(AnnexE.row(group: 0x5004, element: 0x0112)?.name == "Curve Data")
        #expect(AnnexE.row(group: 0x0028, element: 0x0010) == nil)  // Rows: not in the table, kept
    }

    @Test("HMAC-SHA-256 gives the RFC 4231 test vectors")
    func hmacVectors() {
        func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(HMACSHA256.authenticate(key: [UInt8](repeating: 0x0b, count: 20), message: "Hi There"))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(hex(HMACSHA256.authenticate(key: Array("Jefe".utf8), message: "what do ya want for nothing?"))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(hex(HMACSHA256.authenticate(key: [UInt8](repeating: 0xaa, count: 131), message: "Test Using Larger Than Block-Size Key - Hash Key First"))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("keyed UIDs, pseudonyms and day offsets equal Python's hmac module for the same key")
    func keyedValuesMatchPython() throws {
        let key = try DeidFixtures.key
        // Computed with Python: '2.25.' + str(int.from_bytes(hmac.new(k, b'uid:1.2.3', sha256).digest()[:16], 'big')), etc.
        #expect(key.uid(for: "1.2.3") == "2.25.320850799192271694832783183498072585600")
        #expect(key.pseudonym(for: "PAT-1") == "ANON-3717A4B67A2B")
        #expect(key.dayOffset(for: "PAT-1") == 2235)
        #expect(key.fingerprint == "9dedf65bf553aa05")
        #expect(try DeidentificationKey(text: "another-secret-key-of-32-bytes!!").uid(for: "1.2.3") != key.uid(for: "1.2.3"))
        #expect(throws: DeidentificationError.self) { try DeidentificationKey(text: "short") }
    }

    static func policy(_ options: Set<DeidentificationProfile.Option> = [], identifiers: [String] = []) throws -> DeidentificationPolicy {
        DeidentificationPolicy(profile: DeidentificationProfile(options: options), key: try DeidFixtures.key, pseudonym: "ANON-1",
                               pseudonymName: "ANON-1", dayOffset: 10, identifiers: identifiers)
    }

    @Test("every attribute of Table E.1-1 gets its Basic Profile action")
    func everyRowHasItsAction() throws {
        let policy = try Self.policy()
        let key = try DeidFixtures.key
        // Group 0002 (the meta header) is rebuilt from the de-identified dataset rather than walked.
        for row in AnnexE.rows where row.groupMask == 0xFFFF && row.group != 0x0002 {
            let what = "\(row.name) (\(String(format: "%04X,%04X", row.group, row.element))) \(row.action.rawValue)"
            if row.group == 0x0010 && (row.element == 0x0010 || row.element == 0x0020) {
                #expect(policy.decide(group: row.group, element: row.element, vr: "PN", isSequence: false, privateCreator: nil, value: "X") == .replace("ANON-1"), "\(what)")
                continue
            }
            let text = policy.decide(group: row.group, element: row.element, vr: "LO", isSequence: false, privateCreator: nil, value: "Planted")
            let uid = policy.decide(group: row.group, element: row.element, vr: "UI", isSequence: false, privateCreator: nil, value: "1.2.3")
            let sequence = policy.decide(group: row.group, element: row.element, vr: "SQ", isSequence: true, privateCreator: nil, value: nil)
            switch row.action {
            case .x, .xd:
                #expect(text == .remove && sequence == .remove, "\(what)")
            case .z, .xz, .xzd:
                #expect(text == .empty && sequence == .empty, "\(what)")
            case .d, .zd:
                #expect(text == .replace("ANONYMIZED") && sequence == .keep, "\(what)")
            case .u:
                #expect(uid == .replace(key.uid(for: "1.2.3")), "\(what)")
            case .xzu:
                #expect(sequence == .keep && uid == .replace(key.uid(for: "1.2.3")) && text == .empty, "\(what)")
            }
        }
        // Not in the table: kept; private and overlay attributes: removed.
        #expect(policy.decide(group: 0x0028, element: 0x0030, vr: "DS", isSequence: false, privateCreator: nil, value: "0.5\\0.5") == .keep)
        #expect(policy.decide(group: 0x0029, element: 0x1010, vr: "OB", isSequence: false, privateCreator: "SIEMENS CSA HEADER", value: nil) == .remove)
        #expect(policy.decide(group: 0x6000, element: 0x0010, vr: "US", isSequence: false, privateCreator: nil, value: nil) == .remove)
        // Dummies follow the VR.
        #expect(policy.decide(group: 0x0008, element: 0x0023, vr: "DA", isSequence: false, privateCreator: nil, value: "20240101") == .replace("19000101"))
        #expect(policy.decide(group: 0x0040, element: 0xA123, vr: "PN", isSequence: false, privateCreator: nil, value: "Doe^John") == .replace("ANONYMOUS"))
    }

    @Test("options: retain-dates, shift-dates, retain-uids, clean-descriptors, retain-patient-characteristics, retain-safe-private")
    func options() throws {
        let basic = try Self.policy()
        #expect(basic.decide(group: 0x0008, element: 0x0020, vr: "DA", isSequence: false, privateCreator: nil, value: "20240301") == .empty)
        let retain = try Self.policy([.retainDates])
        #expect(retain.decide(group: 0x0008, element: 0x0020, vr: "DA", isSequence: false, privateCreator: nil, value: "20240301") == .keep)
        let shift = try Self.policy([.shiftDates])
        #expect(shift.decide(group: 0x0008, element: 0x0020, vr: "DA", isSequence: false, privateCreator: nil, value: "20240301") == .replace("20240220"))
        #expect(shift.decide(group: 0x0008, element: 0x002A, vr: "DT", isSequence: false, privateCreator: nil, value: "20000105101112.5+0100") == .replace("19991226101112.5+0100"))
        #expect(shift.decide(group: 0x0008, element: 0x0030, vr: "TM", isSequence: false, privateCreator: nil, value: "101112") == .keep)
        #expect(shift.decide(group: 0x0010, element: 0x0030, vr: "DA", isSequence: false, privateCreator: nil, value: "2024") == .replace(""))  // not a full date
        let uids = try Self.policy([.retainUIDs])
        #expect(uids.decide(group: 0x0020, element: 0x000E, vr: "UI", isSequence: false, privateCreator: nil, value: "1.2.3") == .keep)
        let clean = try Self.policy([.cleanDescriptors], identifiers: ["Doe", "MRN4711", "Jane"])
        #expect(clean.decide(group: 0x0008, element: 0x1030, vr: "LO", isSequence: false, privateCreator: nil, value: "CT head doe JANE mrn4711 follow-up") == .replace("CT head follow-up"))
        #expect(basic.decide(group: 0x0008, element: 0x1030, vr: "LO", isSequence: false, privateCreator: nil, value: "CT head") == .remove)
        let traits = try Self.policy([.retainPatientCharacteristics])
        #expect(traits.decide(group: 0x0010, element: 0x1030, vr: "DS", isSequence: false, privateCreator: nil, value: "70") == .keep)
        #expect(basic.decide(group: 0x0010, element: 0x1030, vr: "DS", isSequence: false, privateCreator: nil, value: "70") == .remove)
        let safe = try Self.policy([.retainSafePrivate])
        #expect(safe.decide(group: 0x0029, element: 0x0010, vr: "LO", isSequence: false, privateCreator: nil, value: "SIEMENS CSA HEADER") == .keep)
        #expect(safe.decide(group: 0x0029, element: 0x1010, vr: "OB", isSequence: false, privateCreator: "SIEMENS CSA HEADER", value: nil) == .keep)
        #expect(safe.decide(group: 0x0029, element: 0x1020, vr: "OB", isSequence: false, privateCreator: "SIEMENS CSA HEADER", value: nil) == .remove)
        #expect(safe.decide(group: 0x0029, element: 0x0011, vr: "LO", isSequence: false, privateCreator: nil, value: "ACME") == .remove)
        #expect(throws: DeidentificationError.self) { try DeidentificationProfile(parsing: "retain-dates,shift-dates") }
        #expect(throws: DeidentificationError.self) { try DeidentificationProfile(parsing: "basic,keep-everything") }
        #expect(try DeidentificationProfile(parsing: "basic, shift-dates,retain-uids").name == "basic,retain-uids,shift-dates")
    }

    @Test("dates shift across month, year and leap-day boundaries", arguments: [
        ("20240301", 1, "20240229"), ("20000101", 1, "19991231"), ("20230301", 1, "20230228"), ("19700101", 3650, "19600104"),
    ])
    func civilDates(_ c: (String, Int, String)) {
        #expect(CivilDate(Substring(c.0))?.adding(days: -c.1).text == c.2)
    }

    @Test("burned-in annotation: flagged by the attribute, SOP class, modality and image type; NO clears the guesses")
    func burnedIn() {
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.2", modality: "CT", imageType: "ORIGINAL\\PRIMARY", burnedInAnnotation: "") == nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.2", modality: "CT", imageType: "", burnedInAnnotation: "YES") != nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.7", modality: "OT", imageType: "", burnedInAnnotation: "") != nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.7", modality: "OT", imageType: "", burnedInAnnotation: "NO") == nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.6.1", modality: "US", imageType: "", burnedInAnnotation: "") != nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.2", modality: "CT", imageType: "DERIVED\\SECONDARY\\SCREEN SAVE", burnedInAnnotation: "") != nil)
        #expect(BurnedInAnnotation.reason(sopClassUID: "1.2.840.10008.5.1.4.1.1.104.1", modality: "DOC", imageType: "", burnedInAnnotation: "NO") != nil)
    }

    @Test("a pseudonym map is read, and bad maps are refused with the line")
    func pseudonymMap() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try "patient_id,pseudonym,name\nPAT-1,STUDY-001,Subject^One\n# comment\nPAT-2,STUDY-002\n".write(toFile: dir + "/map.csv", atomically: true, encoding: .utf8)
        let table = try PseudonymTable(csv: dir + "/map.csv")
        #expect(table.entries["PAT-1"] == PseudonymTable.Entry(id: "STUDY-001", name: "Subject^One"))
        #expect(table.entries["PAT-2"] == PseudonymTable.Entry(id: "STUDY-002", name: "STUDY-002"))
        try "PAT-1,A\nPAT-1,B\n".write(toFile: dir + "/twice.csv", atomically: true, encoding: .utf8)
        #expect(throws: DeidentificationError.invalidMap(path: dir + "/twice.csv", line: 2, reason: "this Patient ID is listed twice")) {
            try PseudonymTable(csv: dir + "/twice.csv")
        }
        try "PAT-1,A\nPAT-2,A\n".write(toFile: dir + "/shared.csv", atomically: true, encoding: .utf8)
        #expect(throws: DeidentificationError.self) { try PseudonymTable(csv: dir + "/shared.csv") }
    }
}
