import VoxelIO
import VoxelSupport

extension StageConfiguration {
    /// The value of a parameter that is required or has a declared default (the validator fills defaults in,
    /// so a stage never repeats a default at the read site).
    /// - Throws: `CaseError.invalidParameters` when the value is absent or of another type: a stage that
    ///   reads a parameter it did not declare, or a configuration that did not pass `PipelineValidator`.
    private func value<T>(_ name: String, _ type: String, _ read: (ParameterValues) -> T?) throws -> T {
        guard let v = read(parameters) else {
            throw CaseError.invalidParameters(stage: id, reason: "parameter \"\(name)\" has no \(type) value (it is neither given nor declared with a default)")
        }
        return v
    }

    /// A string parameter (also a reference, a path or a choice).
    public func string(_ name: String) throws -> String { try value(name, "string") { $0.string(name) } }
    /// A number parameter.
    public func double(_ name: String) throws -> Double { try value(name, "number") { $0.double(name) } }
    /// An integer parameter.
    public func int(_ name: String) throws -> Int { try value(name, "integer") { $0.int(name) } }
    /// A true/false parameter.
    public func bool(_ name: String) throws -> Bool { try value(name, "boolean") { $0.bool(name) } }
    /// An array-of-numbers parameter.
    public func doubles(_ name: String) throws -> [Double] { try value(name, "array of numbers") { $0.doubles(name) } }
    /// An array-of-integers parameter.
    public func ints(_ name: String) throws -> [Int] { try value(name, "array of integers") { $0.ints(name) } }
    /// An array-of-strings parameter.
    public func strings(_ name: String) throws -> [String] { try value(name, "array of strings") { $0.strings(name) } }
    /// A parameter's JSON value as given (objects passed on to programs).
    public func json(_ name: String) throws -> JSON { try value(name, "JSON") { $0.values[name] } }
    /// A label → label mapping parameter.
    public func labelMapping(_ name: String) throws -> [Int: Int] { try value(name, "label mapping") { $0.labelMapping(name) } }
    /// A choice parameter as the enumeration whose raw values are the choices.
    public func choice<T: RawRepresentable>(_ name: String, as: T.Type) throws -> T where T.RawValue == String {
        try value(name, "choice") { $0.string(name).flatMap(T.init(rawValue:)) }
    }
}

extension StageConfiguration {
    /// The label table of parameter `name` (`.labelTable`): read from its file (relative to the pipeline
    /// file) or built from the inline object; nil when the parameter is absent.
    /// - Throws: `LabelTableError` naming the file (or "inline label table of stage ID") and the problem.
    public func labelTable(_ name: String = "labelTable") throws -> LabelTable? {
        guard let value = parameters.values[name] else { return nil }
        if let file = value.stringValue { return try LabelTable.read(file.hasPrefix("/") ? file : "\(pipelineDirectory)/\(file)") }
        return try LabelTable.parse(bytes: Array(value.serialized(pretty: false).utf8), path: "inline label table of stage \(id)")
    }
}
