import Dispatch
import Foundation
import VoxelPipeline

/// Turns SIGINT and SIGTERM into a clean stop of a run: the first signal asks the run to finish the cases
/// in flight and start no new one; a second one abandons them (the run is recorded as interrupted) and exits.
final class InterruptHandler: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "voxelflow.signals")
    private var count = 0

    init(control: RunControl) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.count += 1
                if self.count == 1 {
                    printError("voxelflow: \(sig == SIGINT ? "interrupt" : "terminate") received: finishing the cases in flight, starting no new one (send it again to abandon them)")
                    control.requestStop()
                } else {
                    printError("voxelflow: abandoning the cases in flight; the run is recorded as interrupted")
                    control.abandon()
                    exit(ExitCodes.interrupted)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling.
    func stop() {
        for s in sources { s.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
