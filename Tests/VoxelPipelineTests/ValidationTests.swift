import VoxelCore
import Foundation
import Testing
import TestSupport
import VoxelPipeline
import VoxelSupport

/// `voxelflow validate`: every kind of problem is found before any scan is read, with its JSON path,
/// line and column.
@Suite("Pipeline validation")
struct ValidationTests {
    static func issues(_ text: String, registry: StageRegistry = PipelineFixtures.registry, directory: String = "/tmp") -> [PipelineIssue] {
        do {
            _ = try PipelineValidator(registry: registry).validate(text: text, file: "p.json", directory: directory)
            return []
        } catch let e as PipelineValidationError {
            return e.issues
        } catch {
            return [PipelineIssue(path: "?", line: 0, column: 0, message: "\(error)")]
        }
    }

    /// A valid pipeline with one stage line that each case replaces.
    static func pipeline(stages: String, inputs: String = #""ct": { "type": "nifti", "pattern": "images/*.nii.gz" }, "mask": { "type": "nifti", "pattern": "labels/*.nii.gz", "as": "labels" }"#) -> String {
        """
        {
          "voxelflow": 1,
          "name": "t",
          "inputs": { \(inputs) },
          "stages": [
            \(stages)
          ]
        }
        """
    }

    @Test("the example pipelines and the test pipeline are valid")
    func validPipelines() throws {
        #expect(Self.issues(PipelineFixtures.statisticsPipeline).isEmpty)
        let dir = TestPaths.repositoryRoot + "/pipelines"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") && $0 != "schema.json" }
        #expect(files.count >= 3)
        for f in files {
            #expect(throws: Never.self, "\(f)") { _ = try PipelineValidator(registry: PipelineFixtures.registry).load("\(dir)/\(f)") }
        }
    }

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var text: String
        var path: String
        var fragment: String
        var line: Int
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "JSON syntax (trailing comma)", text: "{\n  \"voxelflow\": 1,\n  \"name\": \"x\",\n}\n", path: "$", fragment: "JSON syntax: trailing comma", line: 4),
        Case(name: "JSON syntax (unquoted key)", text: "{\n  voxelflow: 1 }", path: "$", fragment: "expected a key in double quotes", line: 2),
        Case(name: "unsupported format version", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#).replacingOccurrences(of: "\"voxelflow\": 1", with: "\"voxelflow\": 2"),
             path: "voxelflow", fragment: "unsupported pipeline format version 2", line: 2),
        Case(name: "unknown top-level key", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#).replacingOccurrences(of: "\"name\"", with: "\"nmae\""),
             path: "nmae", fragment: "unknown key \"nmae\" (did you mean \"name\"?)", line: 3),
        Case(name: "unknown stage type", text: pipeline(stages: #"{ "id": "t", "type": "treshold", "source": "ct", "lower": 1 }"#),
             path: "stages[0].type", fragment: "unknown stage type \"treshold\" (did you mean \"threshold\"?)", line: 6),
        Case(name: "unknown parameter", text: pipeline(stages: #"{ "id": "t", "type": "threshold", "source": "ct", "lowr": 1 }"#),
             path: "stages[0].lowr", fragment: "unknown key \"lowr\" (did you mean \"lower\"?)", line: 6),
        Case(name: "wrong parameter type", text: pipeline(stages: #"{ "id": "t", "type": "threshold", "source": "ct", "lower": "300" }"#),
             path: "stages[0].lower", fragment: "expected a number, found string", line: 6),
        Case(name: "parameter out of range", text: pipeline(stages: #"{ "id": "t", "type": "threshold", "source": "ct", "lower": 1, "label": 300 }"#),
             path: "stages[0].label", fragment: "300 is out of range", line: 6),
        Case(name: "fractional integer", text: pipeline(stages: #"{ "id": "c", "type": "crop-or-pad", "source": "ct", "size": [4, 4.5, 4] }"#),
             path: "stages[0].size[1]", fragment: "expected an integer, found a fractional number", line: 6),
        Case(name: "wrong array length", text: pipeline(stages: #"{ "id": "r", "type": "resample", "source": "ct", "spacing": [1, 1] }"#),
             path: "stages[0].spacing", fragment: "expected 3 items, found 2", line: 6),
        Case(name: "choice misspelt", text: pipeline(stages: #"{ "id": "r", "type": "resample", "source": "ct", "spacing": [1, 1, 1], "interpolation": "lineer" }"#),
             path: "stages[0].interpolation", fragment: "(did you mean \"linear\"?)", line: 6),
        Case(name: "missing required parameter", text: pipeline(stages: #"{ "id": "r", "type": "resample", "source": "ct" }"#),
             path: "stages[0]", fragment: "missing parameter \"spacing\"", line: 6),
        Case(name: "missing id", text: pipeline(stages: #"{ "type": "write-report" }"#), path: "stages[0]", fragment: "missing key \"id\"", line: 6),
        Case(name: "duplicate id", text: pipeline(stages: #"{ "id": "a", "type": "fill-holes", "source": "mask" }, { "id": "a", "type": "fill-holes", "source": "mask" }"#),
             path: "stages[1].id", fragment: "id \"a\" is already used by an earlier stage", line: 6),
        Case(name: "id clashing with an input", text: pipeline(stages: #"{ "id": "ct", "type": "fill-holes", "source": "mask" }"#),
             path: "stages[0].id", fragment: "already used by an input", line: 6),
        Case(name: "dangling reference", text: pipeline(stages: #"{ "id": "a", "type": "fill-holes", "source": "maks" }"#),
             path: "stages[0].source", fragment: "no input or earlier stage has id \"maks\" (did you mean \"mask\"?)", line: 6),
        Case(name: "forward reference", text: pipeline(stages: #"{ "id": "a", "type": "fill-holes", "source": "b" }, { "id": "b", "type": "fill-holes", "source": "mask" }"#),
             path: "stages[0].source", fragment: "no input or earlier stage has id \"b\"", line: 6),
        Case(name: "reference of the wrong kind", text: pipeline(stages: #"{ "id": "a", "type": "fill-holes", "source": "ct" }"#),
             path: "stages[0].source", fragment: "\"ct\" gives image, but this parameter needs labels", line: 6),
        Case(name: "reference to a writer", text: pipeline(stages: #"{ "id": "w", "type": "write-report" }, { "id": "a", "type": "fill-holes", "source": "w" }"#),
             path: "stages[1].source", fragment: "stage \"w\" produces no value", line: 6),
        Case(name: "output path escaping the case folder", text: pipeline(stages: #"{ "id": "w", "type": "write-nifti", "source": "ct", "path": "../../x.nii.gz" }"#),
             path: "stages[0].path", fragment: "may not contain '..'", line: 6),
        Case(name: "absolute output path", text: pipeline(stages: #"{ "id": "w", "type": "write-nifti", "source": "ct", "path": "/etc/x.nii.gz" }"#),
             path: "stages[0].path", fragment: "is absolute", line: 6),
        Case(name: "clashing output paths", text: pipeline(stages: #"{ "id": "w", "type": "write-nifti", "source": "ct", "path": "a.nii.gz" }, { "id": "v", "type": "write-nifti", "source": "mask", "path": "a.nii.gz" }"#),
             path: "stages[1].path", fragment: "also written by stage \"w\"", line: 6),
        Case(name: "input pattern without a star", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "nifti", "pattern": "images/a.nii.gz" }"#),
             path: "inputs.ct.pattern", fragment: "exactly one '*'", line: 4),
        Case(name: "unknown input type", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "nifit", "pattern": "*.nii" }"#),
             path: "inputs.ct.type", fragment: "(did you mean \"nifti\"?)", line: 4),
        Case(name: "unknown case-name placeholder", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series", "caseName": "{patinet}" }"#),
             path: "inputs.ct.caseName", fragment: "unknown placeholder {patinet}", line: 4),
        Case(name: "select rule with an inverted range", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series", "select": { "slices": [20, 2] } }"#),
             path: "inputs.ct.select.slices", fragment: "expected [minimum, maximum]", line: 4),
        Case(name: "select orientation misspelt", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series", "select": { "orientation": "axal" } }"#),
             path: "inputs.ct.select.orientation", fragment: "(did you mean \"axial\"?)", line: 4),
        Case(name: "select regular expression that does not compile", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series", "select": { "seriesDescription": "(axial" } }"#),
             path: "inputs.ct.select.seriesDescription", fragment: "not a valid regular expression", line: 4),
        Case(name: "unknown select rule", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series", "select": { "bestPerStudie": "thinnest" } }"#),
             path: "inputs.ct.select.bestPerStudie", fragment: "(did you mean \"bestPerStudy\"?)", line: 4),
        Case(name: "reference input whose file is missing", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "nifti", "pattern": "*.nii" }, "atlas": { "type": "reference", "path": "no-such-atlas.nii.gz" }"#),
             path: "inputs.atlas.path", fragment: "no such file /tmp/no-such-atlas.nii.gz", line: 4),
        Case(name: "two inputs defining cases beside a DICOM series", text: pipeline(stages: #"{ "id": "r", "type": "write-report" }"#, inputs: #""ct": { "type": "dicom-series" }, "mask": { "type": "nifti", "pattern": "*.nii" }"#),
             path: "inputs", fragment: "must be the only input that defines cases", line: 4),
        Case(name: "a number that is not one of a numeric choice", text: pipeline(stages: #"{ "id": "k", "type": "keep-largest-component", "source": "mask", "connectivity": 8 }"#),
             path: "stages[0].connectivity", fragment: "8.0 is not one of \"6\", \"18\", \"26\"", line: 6),
        Case(name: "program not on PATH (checked when the stage is set up)",
             text: pipeline(stages: #"{ "id": "x", "type": "external-command", "command": ["no-such-program-voxelflow"] }"#),
             path: "stages[0]", fragment: "program \"no-such-program-voxelflow\" not found on PATH", line: 6),
        Case(name: "contradictory parameters (checked when the stage is set up)",
             text: pipeline(stages: #"{ "id": "t", "type": "threshold", "source": "ct" }"#),
             path: "stages[0]", fragment: "give \"lower\", \"upper\" or both", line: 6),
    ]

    @Test("each kind of problem is reported with its JSON path and line", arguments: cases)
    func problemIsLocated(_ c: Case) {
        let found = Self.issues(c.text)
        let match = found.first { $0.path == c.path && $0.message.contains(c.fragment) }
        #expect(match != nil, "expected \(c.path): …\(c.fragment)…, got \(found)")
        #expect(match?.line == c.line, "line of \(String(describing: match))")
        #expect(match.map { $0.column > 0 } ?? false)
    }

    @Test("every problem of a file is reported, in file order")
    func allProblemsReported() {
        let text = Self.pipeline(stages: #"{ "id": "a", "type": "fill-holes", "source": "ct" }, { "id": "b", "type": "treshold" }, { "id": "c", "type": "resample", "source": "nope", "spacing": [1, 1, 1] }"#)
        let found = Self.issues(text)
        #expect(found.count == 3, "\(found)")
        #expect(found.map(\.path) == ["stages[0].source", "stages[1].type", "stages[2].source"])
    }

    @Test("one pass reports set-up problems (an orientation code) together with type errors elsewhere")
    func setUpProblemsWithOthers() {
        let text = Self.pipeline(stages: #"{ "id": "r", "type": "reorient", "source": "ct", "orientation": "RAZ" }, { "id": "s", "type": "resample", "source": "r", "spacing": "1" }, { "id": "w", "type": "write-nifti", "source": "s", "path": "../x.nii.gz" }"#)
        let found = Self.issues(text)
        #expect(found.map(\.path) == ["stages[0]", "stages[1].spacing", "stages[2].path"], "\(found)")
        #expect(found.first?.message.contains("orientation 'RAZ'") == true)
    }

    @Test("\"$schema\" is accepted at the top, and a numeric choice may be written as a number")
    func schemaKeyAndNumericChoice() throws {
        let text = Self.pipeline(stages: #"{ "id": "k", "type": "keep-largest-component", "source": "mask", "connectivity": 6 }"#)
            .replacingOccurrences(of: "\"voxelflow\": 1,", with: "\"$schema\": \"../pipelines/schema.json\",\n  \"voxelflow\": 1,")
        #expect(Self.issues(text).isEmpty, "\(Self.issues(text))")
        let spec = try PipelineValidator(registry: PipelineFixtures.registry).validate(text: text, file: "p.json", directory: "/tmp")
        #expect(spec.stages[0].parameters.string("connectivity") == "6")
        #expect(spec.builtStages?.count == 1, "the validator hands its built stages to the runner")
    }

    @Test("a pipeline file that is not UTF-8 is refused at the offending byte")
    func invalidUTF8() throws {
        var bytes = Array(Self.pipeline(stages: #"{ "id": "r", "type": "write-report" }"#).utf8)
        let at = try #require(bytes.firstIndex(of: UInt8(ascii: "t")))  // the name "t" on line 3
        bytes[at] = 0xC3  // a lead byte without its continuation
        do {
            _ = try PipelineValidator(registry: PipelineFixtures.registry).validate(bytes: bytes, file: "p.json", directory: "/tmp")
            Issue.record("accepted")
        } catch let e as PipelineValidationError {
            #expect(e.issues.count == 1 && e.issues[0].line == 3 && e.issues[0].message.contains("invalid UTF-8"), "\(e.issues)")
        }
    }

    @Test("a missing resource file is reported (parameters of type existingFile)")
    func missingFile() throws {
        var registry = PipelineFixtures.registry
        registry.register(StageDefinition(
            type: "test-model", category: .model, summary: "test",
            parameters: [ParameterSpec("weights", .existingFile, doc: "weights")], produces: .kind(.labels),
            make: { _ in throw CaseError.model(stage: nil, reason: "not runnable") }))
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let text = Self.pipeline(stages: #"{ "id": "m", "type": "test-model", "weights": "models/unet.safetensors" }"#)
        let found = Self.issues(text, registry: registry, directory: dir)
        #expect(found.contains { $0.path == "stages[0].weights" && $0.message.contains("file not found: \(dir)/models/unet.safetensors") }, "\(found)")
    }

    @Test("validate exits 2 and prints file:line:column: path: message")
    func cliValidate() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let bad = try PipelineFixtures.writePipeline(Self.pipeline(stages: #"{ "id": "t", "type": "threshold", "source": "ct", "lowr": 1 }"#), in: dir)
        let r = PipelineFixtures.cli(["validate", bad])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(bad):6:55: stages[0].lowr: unknown key \"lowr\" (did you mean \"lower\"?)"), "\(r.stderr)")
        let good = try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: dir, name: "good.json")
        let ok = PipelineFixtures.cli(["validate", good])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("valid"))
    }
}

@Suite("JSON parser")
struct JSONParserTests {
    @Test("values keep their line and column")
    func positions() throws {
        let node = try JSONParser.parse("{\n  \"a\": [1, 2.5e1, -0.5],\n  \"b\": {\"c\": \"x\\u00e9\\n\"}, \"d\": null }")
        let a = try #require(node.member("a"))
        #expect(a.keyLine == 2 && a.keyColumn == 3)
        #expect(a.value.line == 2 && a.value.column == 8)
        #expect(a.value.json == .array([.int(1), .int(25), .number(-0.5)]))
        #expect(node.member("b")?.value.member("c")?.value.string == "xé\n")
        #expect(node.member("d")?.value.typeName == "null")
    }

    @Test("syntax errors name line and column", arguments: [
        ("[1, 2", 1, 6, "unexpected end of text"),
        ("{\"a\": tru}", 1, 7, "did you mean 'true'"),
        ("[01]", 1, 2, "leading zeros"),
        ("\"abc\ndef\"", 1, 5, "line break inside a string"),
        ("{} x", 1, 4, "unexpected text after the JSON value"),
        ("[\"\\q\"]", 1, 3, "invalid escape"),
    ])
    func syntaxErrors(text: String, line: Int, column: Int, fragment: String) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("parsed \(text)")
        } catch let e as JSONSyntaxError {
            #expect(e.line == line && e.column == column, "\(e)")
            #expect(e.message.contains(fragment), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("bytes that are not UTF-8 are refused with their position; valid multi-byte text is accepted", arguments: [
        ([0x22, 0xFF, 0x22], 1, 2), ([0x0A, 0x22, 0xC3, 0x28, 0x22], 2, 2), ([0x22, 0xE2, 0x82, 0x22], 1, 2),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1, 2), ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, 2), ([0x22, 0xC0, 0xAF, 0x22], 1, 2),
    ] as [([UInt8], Int, Int)])
    func invalidUTF8(bytes: [UInt8], line: Int, column: Int) {
        do {
            _ = try JSONParser.parse(bytes: bytes)
            Issue.record("accepted \(bytes)")
        } catch let e as JSONSyntaxError {
            #expect(e.line == line && e.column == column && e.message.contains("UTF-8"), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("valid UTF-8 of every length parses to the same string")
    func validUTF8() throws {
        let text = "\"aé€𝄞\""
        #expect(try JSONParser.parse(bytes: Array(text.utf8)).string == "aé€𝄞")
    }

    @Test("nesting is limited, so hostile input cannot exhaust the stack")
    func depthLimit() {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(String(repeating: "[", count: 100_000)) }
    }

    @Test("serialisation reads back identically and is stable")
    func roundTrip() throws {
        let value = JSON.object([("s", .string("q\"\\\n\u{01}é")), ("n", .number(0.1)), ("i", .int(-3)), ("a", .array([.bool(true), .null])), ("o", .object([]))])
        for pretty in [true, false] {
            let text = value.serialized(pretty: pretty)
            #expect(try JSONParser.parse(text).json == value)
            #expect(value.serialized(pretty: pretty) == text)
        }
        #expect(JSON.number(.nan).serialized() == "null")
    }
}
