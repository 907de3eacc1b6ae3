import Foundation
import Testing
import TestSupport

/// `voxelflow pull` and `push` refusals that need no PACS (scripts/pacs_e2e.sh runs them against Orthanc).
@Suite("voxelflow pull and push: refusals")
struct PACSCommandTests {
    static func run(_ args: [String], environment: [String: String?] = [:]) -> Subprocess.Result {
        Subprocess.run([TestPaths.voxelflowExecutable] + args, environment: environment)
    }

    @Test("credentials in a URL are refused without being printed; other schemes are refused")
    func credentialsInURL() {
        let r = Self.run(["pull", "https://alice:s3cret-pw@pacs.example.org/dicom-web", "-o", "/nonexistent/out"])
        #expect(r.status == 2 && r.stderr.contains("credentials in the URL") && !r.stderr.contains("s3cret-pw") && !r.stdout.contains("s3cret-pw"), "\(r.stderr)")
        let file = Self.run(["push", "file:///etc/dicom-web", TestPaths.sampleData + "/dicom/CT_small.dcm"])
        #expect(file.status == 2 && file.stderr.contains("not an http:// or https:// URL"), "\(file.stderr)")
    }

    @Test("a PACS that does not answer: the search fails with the URL and reason, exit 2, and nothing is written")
    func noPACS() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let r = Self.run(["pull", "http://127.0.0.1:9/dicom-web", "-o", dir + "/out", "--modality", "CT"])
        #expect(r.status == 2 && r.stderr.contains("searching http://127.0.0.1:9/dicom-web") && r.stderr.contains("127.0.0.1"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    @Test("--user without a password, and a password file that cannot be read, are named")
    func missingPassword() throws {
        let noPassword = Self.run(["pull", "http://127.0.0.1:9/dicom-web", "-o", "/nonexistent/out", "--user", "alice"],
                                  environment: ["VOXELFLOW_PACS_PASSWORD": nil])
        #expect(noPassword.status == 2 && noPassword.stderr.contains("--user alice: give the password"), "\(noPassword.stderr)")
        let badFile = Self.run(["push", "http://127.0.0.1:9/dicom-web", TestPaths.sampleData + "/dicom/CT_small.dcm", "--user", "alice", "--password-file", "/nonexistent/pw"])
        #expect(badFile.status == 2 && badFile.stderr.contains("/nonexistent/pw: cannot read the password file"), "\(badFile.stderr)")
    }

    @Test("push to a server that does not answer: each file failed with the reason, exit 4")
    func pushNowhere() {
        let r = Self.run(["push", "http://127.0.0.1:9/dicom-web", TestPaths.sampleData + "/dicom/CT_small.dcm", "--retries", "0"])
        #expect(r.status == 4 && r.stderr.contains("CT_small.dcm: not stored:") && r.stdout.contains("1 failed"), "\(r.stdout) \(r.stderr)")
    }
}
