#if canImport(Glibc)
import Glibc
#endif

/// Hints to the kernel about large buffers (a system call; no C code of the project's own).
public enum MemoryAdvice {
    /// Asks for transparent huge pages on the 2 MiB-aligned part of a large buffer before it is first
    /// written. Freshly allocated memory is faulted in page by page; with 2 MiB pages a 170 MB volume
    /// takes ~85 faults instead of ~41,000, which on virtual machines is a large part of decoding time.
    /// A no-op for small buffers, on systems without THP, or where it is disabled.
    public static func preferHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
        let huge = 2 << 20
        guard buffer.count >= 2 * huge, let base = buffer.baseAddress else { return }
        let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, MADV_HUGEPAGE)
        #endif
    }

    /// Makes freed memory stay with the process for reuse instead of going back to the kernel: large
    /// allocations come from the heap rather than fresh mappings, and the heap is not trimmed. A network's
    /// layers allocate and free tensors of hundreds of MB in turn; fresh mappings would be zeroed and
    /// faulted in page by page each time (measured: 7% of a BasicUNet forward in the kernel clearing pages).
    /// Peak memory is unchanged; resident memory does not shrink after the peak. Process-wide; idempotent.
    public static func retainFreedMemory() {
        #if canImport(Glibc)
        // glibc's mallopt, looked up at run time (its header is not part of the Glibc module).
        // Parameters from <malloc.h>: M_TRIM_THRESHOLD = −1, M_MMAP_MAX = −4.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-4, 0)
        _ = mallopt(-1, Int32.max)
        #endif
    }
}
