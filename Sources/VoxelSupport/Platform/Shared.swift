/// A value lent to the workers of one parallel loop: a buffer or pointer whose disjoint parts each worker
/// reads or writes. The one place where such a value is declared `Sendable`; the loop that lends it must make
/// sure no two workers write the same element, and must not let it escape the loop.
public struct Shared<T>: @unchecked Sendable {
    /// The lent value.
    public let value: T
    /// Lends `value` to a parallel loop.
    public init(_ value: T) { self.value = value }
}
