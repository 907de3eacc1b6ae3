import Foundation
import Testing
import TestSupport
import VoxelCatalog
import VoxelIO
@testable import PACSPlugin
import VoxelNet
import VoxelPipeline

/// `run --input URL --cache-limit`: a source that serves the sample series from disk stands in for the PACS
/// (scripts/pacs_e2e.sh runs the same against Orthanc).
@Suite("PACS run with a bounded cache")
struct PACSRunCacheTests {
    /// Serves local series; records, at the start of each retrieval, how many instance files the cache holds.
    final class FolderSource: SeriesSource, @unchecked Sendable {
        let series: [(RemoteSeries, [String])]
        let cache: String
        private let lock = NSLock()
        private(set) var filesAtRetrieval: [String: Int] = [:]

        init(series: [(RemoteSeries, [String])], cache: String) {
            self.series = series
            self.cache = cache
        }

        var name: String { "test://folders" }
        func searchSeries(_ query: SeriesQuery) throws -> [RemoteSeries] { series.map(\.0) }
        func isRetryable(_ error: Error) -> Bool { false }

        func retrieveSeries(_ s: RemoteSeries, into directory: String) throws -> (instances: Int, bytes: Int64) {
            let held = (FileManager.default.enumerator(atPath: cache)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".dcm") && !$0.hasPrefix(".partial") }.count
            lock.lock()
            filesAtRetrieval[s.seriesUID] = held
            lock.unlock()
            guard let files = series.first(where: { $0.0.seriesUID == s.seriesUID })?.1 else { return (0, 0) }
            var bytes: Int64 = 0
            for (n, f) in files.enumerated() {
                let target = "\(directory)/\(String(format: "%05d", n + 1)).dcm"
                try FileManager.default.copyItem(atPath: f, toPath: target)
                bytes += Int64((try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0)
            }
            return (files.count, bytes)
        }
    }

    static func sampleSeries() throws -> [(RemoteSeries, [String])] {
        let root = TestPaths.repositoryRoot + "/sample-data/dicom"
        let head = try FileManager.default.contentsOfDirectory(atPath: root + "/ct_head_implicit").filter { $0.hasSuffix(".dcm") }.sorted()
            .map { "\(root)/ct_head_implicit/\($0)" }
        return try [[root + "/CT_small.dcm"], head].map { files in
            let h = try DICOMHeader.read(files[0])
            return (RemoteSeries(studyUID: h.studyInstanceUID, seriesUID: h.seriesInstanceUID, modality: "CT", instances: files.count), files)
        }
    }

    @Test("with a limit, the next series waits for the pass over the last, processed series leave only their marker, and a resumed run takes nothing again")
    func boundedCache() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let output = dir + "/out", cache = output + "/" + RunOptions.pacsCacheName
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let series = try Self.sampleSeries()
        let source = FolderSource(series: series, cache: cache)
        let spec = try PipelineValidator(registry: StageCatalog.registry).load(TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json")
        let runner = Runner(spec: spec, registry: StageCatalog.registry)
        var pull = PullOptions()
        pull.jobs = 1
        pull.resume = true
        let options = RunOptions(archive: cache, output: output)
        let lines = LineCollector()
        let outcome = try PACSRun.run(source: source, series: series.map(\.0), cache: cache, pull: pull, runner: runner, runOptions: options,
                                      progress: ProgressReporter(style: .quiet), control: RunControl(), cacheLimit: 1) { lines.add($0) }

        #expect(outcome.removedSeries == 2 && outcome.passes == 2, "\(lines.all)")
        // The second series was retrieved only after the first one's case ran and its file was removed.
        #expect(source.filesAtRetrieval[series[0].0.seriesUID] == 0)
        #expect(source.filesAtRetrieval[series[1].0.seriesUID] == 0)
        #expect(outcome.peakCacheBytes > 0)
        let status = try BatchStatus.read(output: output)
        #expect(status.count(.done) == 2)
        for (s, _) in series {
            let folder = "\(cache)/\(s.studyUID)/\(s.seriesUID)"
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [PACSRun.processedMarker])
        }

        // Resumed: nothing retrieved (the markers), nothing run again.
        let again = FolderSource(series: series, cache: cache)
        var resumed = options
        resumed.resume = true
        let second = try PACSRun.run(source: again, series: series.map(\.0), cache: cache, pull: pull, runner: runner, runOptions: resumed,
                                     progress: ProgressReporter(style: .quiet), control: RunControl(), cacheLimit: 1) { lines.add($0) }
        #expect(again.filesAtRetrieval.isEmpty)
        #expect(second.removedSeries == 0)
        #expect(try String(contentsOfFile: output + "/manifest.jsonl", encoding: .utf8).split(separator: "\n").count == 2)
    }

    @Test("without a limit, the cache keeps every series and retrievals do not wait")
    func unbounded() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let output = dir + "/out", cache = output + "/" + RunOptions.pacsCacheName
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let series = try Self.sampleSeries()
        let source = FolderSource(series: series, cache: cache)
        let spec = try PipelineValidator(registry: StageCatalog.registry).load(TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json")
        var pull = PullOptions()
        pull.jobs = 1
        pull.resume = true
        let outcome = try PACSRun.run(source: source, series: series.map(\.0), cache: cache, pull: pull, runner: Runner(spec: spec, registry: StageCatalog.registry),
                                      runOptions: RunOptions(archive: cache, output: output), progress: ProgressReporter(style: .quiet),
                                      control: RunControl()) { _ in }
        #expect(outcome.removedSeries == 0)
        let files = (FileManager.default.enumerator(atPath: cache)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".dcm") }
        #expect(files.count == 17)
        #expect(try BatchStatus.read(output: output).count(.done) == 2)
    }
}

/// Lines a run or node logs, collected across threads.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
