import Foundation
import Testing
import TestSupport
import VoxelNN
import VoxelSupport

/// The native PyTorch checkpoint reader against `torch.load`: fixtures from
/// scripts/oracles/make_checkpoint_fixtures.py (a torch.save checkpoint and the same tensors as safetensors,
/// plus hostile and damaged files).
@Suite("PyTorch checkpoints read natively")
struct TorchCheckpointTests {
    static let directory = TestPaths.repositoryRoot + "/Tests/Fixtures/checkpoints"

    @Test("every tensor equals torch.load's (float32/16, bfloat16, float64, int64, strided, offset and shared views)")
    func tensorsMatchTorch() throws {
        let checkpoint = try TorchCheckpoint(path: "\(Self.directory)/state_dict.pth")
        let oracle = try Safetensors(path: "\(Self.directory)/state_dict.safetensors")
        let entries = try checkpoint.stateDict(at: "network_weights")
        #expect(entries.map(\.name) == ["conv.weight", "conv.bias", "half", "bf16", "double", "steps", "transposed", "offset", "shared_head"])
        for (name, ref) in entries {
            let ours = try checkpoint.tensor(ref), theirs = try oracle.tensor(name)
            #expect(ours.shape == theirs.shape, "\(name)")
            #expect(ours.data == theirs.data, "\(name) differs from torch.load")
        }
        let weights = try checkpoint.weights(at: "network_weights")
        #expect(try weights.tensor("transposed").data == oracle.tensor("transposed").data)
    }

    @Test("plain data around the tensors is read: strings, numbers, tuples, devices, numpy scalars")
    func plainData() throws {
        let root = try TorchCheckpoint(path: "\(Self.directory)/state_dict.pth").root
        #expect(root["trainer_name"] == .string("nnUNetTrainer"))
        #expect(root["inference_allowed_mirroring_axes"] == .tuple([.int(0), .int(1), .int(2)]))
        #expect(root["init_args"]?["configuration"] == .string("3d_fullres"))
        #expect(root["init_args"]?["device"] == .device("cpu"))
        #expect(root["init_args"]?["nested"] == .list([.int(1), .tuple([.float(2.5), .string("x")]), .dict([PickleEntry(key: .string("k"), value: .none)])]))
        #expect(root["ema"] == .float(0.25))
        #expect(root["flag"] == .bool(true))
    }

    @Test("hostile and damaged files are refused with a typed error naming the problem",
          arguments: [("hostile_system.pth", "posix.system"), ("hostile_eval.pth", "__builtin__.eval"),
                      ("truncated.pth", "end-of-directory"), ("legacy.pth", "legacy"), ("no_such.pth", "no such file"),
                      // A TorchScript pickle outside a TorchScript archive: its module class is a global like any other.
                      ("torchscript_without_constants.pt", "__torch__.torch.nn.modules.linear")])
    func refused(_ file: String, _ expected: String) {
        do {
            _ = try TorchCheckpoint(path: "\(Self.directory)/\(file)")
            Issue.record("\(file) was accepted")
        } catch let NNError.invalidWeightsFile(path, reason) {
            #expect(path.hasSuffix(file))
            #expect(reason.contains(expected), "\(file): \(reason)")
        } catch {
            Issue.record("\(file): unexpected error \(error)")
        }
    }

    @Test("TorchScript archives (scripted UNet, traced DynUNet with aliases and heads) give the bundles' state dicts name for name and value for value",
          arguments: [("ct_tissue_unet_scripted.ts", "ct-tissue-bundle"), ("ct_dynunet_traced.ts", "ct-dynunet-bundle")])
    func torchScript(_ file: String, _ bundle: String) throws {
        let script = try TorchCheckpoint(path: "\(Self.directory)/\(file)")
        let saved = try TorchCheckpoint(path: TestPaths.repositoryRoot + "/Tests/Fixtures/bundles/\(bundle)/models/model.pt")
        #expect(script.isTorchScript && !saved.isTorchScript)
        if case .object(let className, _) = script.root { #expect(className.hasPrefix("__torch__.monai.networks.nets.")) } else { Issue.record("root is not a module") }
        let ours = try script.weights(), theirs = try saved.weights()
        #expect(Set(ours.entries.keys) == Set(theirs.entries.keys.filter { !$0.hasSuffix("num_batches_tracked") }))
        for name in theirs.entries.keys where ours.entries[name] != nil {
            #expect(try ours.tensor(name) == theirs.tensor(name), "\(name)")
        }
    }

    @Test("a view reaching past its storage is refused when read")
    func viewPastEnd() throws {
        let checkpoint = try TorchCheckpoint(path: "\(Self.directory)/past_end.pth")
        let entries = try checkpoint.stateDict()
        #expect(entries.count == 1)
        #expect(throws: NNError.self) { try checkpoint.tensor(entries[0].tensor) }
    }

    @Test("corrupted bytes in a TorchScript archive's module pickle are refused or read consistently, never a crash")
    func corruptedTorchScript() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/ct_tissue_unet_scripted.ts")))
        // The pickle's bytes: from its local header's name to the next record.
        guard let name = original.indices.first(where: { original[$0...].starts(with: Array("ct_tissue_unet_scripted/data.pkl".utf8)) }) else {
            Issue.record("no data.pkl in the archive")
            return
        }
        var generator = SeededGenerator(seed: 11)
        var refused = 0, read = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<3 {
                let at = name + 40 + Int(generator.next() % 3000)
                if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: generator.next()) }
            }
            do {
                let c = try TorchCheckpoint(data: Data(bytes), path: "mutated.ts")
                for (_, ref) in try c.stateDict() { _ = try c.tensor(ref) }
                read += 1
            } catch is NNError {
                refused += 1
            }
        }
        #expect(refused + read == 400 && refused > 0)
    }

    @Test("every truncation of a checkpoint is refused or read consistently, never a crash")
    func everyTruncation() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/state_dict.pth"))
        var refused = 0
        for cut in stride(from: 0, to: data.count, by: 7) {
            do {
                let c = try TorchCheckpoint(data: data.prefix(cut), path: "cut")
                for (_, ref) in try c.stateDict(at: "network_weights") { _ = try c.tensor(ref) }
            } catch is NNError {
                refused += 1
            }
        }
        #expect(refused == (data.count + 6) / 7, "every prefix lacks the end-of-directory record, so every one must be refused")
    }
}

