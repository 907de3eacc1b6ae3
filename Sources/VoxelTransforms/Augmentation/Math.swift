#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Elementary functions from the C library, named once for the transforms.
enum Math {
    static func log(_ x: Double) -> Double { Glibc.log(x) }
    static func cos(_ x: Double) -> Double { Glibc.cos(x) }
    static func sin(_ x: Double) -> Double { Glibc.sin(x) }
    static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    static func exp(_ x: Double) -> Double { Glibc.exp(x) }
}
