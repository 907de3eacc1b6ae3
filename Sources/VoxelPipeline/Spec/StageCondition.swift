import VoxelSupport

/// A stage's `when`: a pure-data condition on the result of an earlier `classify` stage, so that one pipeline sends
/// each series of a mixed archive to the stages that fit it.
///
/// ```json
/// "when": {"stage": "kind", "predicted": "ct"}                 the class the classifier chose is "ct"
/// "when": {"stage": "kind", "predicted": ["ct", "pet-ct"]}     … is one of these
/// "when": {"stage": "kind", "score": "ct", "atLeast": 0.8}     the score of class "ct" is 0.8 or more
/// ```
/// A stage whose condition does not hold is skipped, and so is every later stage that takes a value from a skipped
/// stage; the case still succeeds, and its manifest line and report list the skipped stages with the reason.
public struct StageCondition: Sendable, Equatable {
    /// What the classify result must satisfy.
    public enum Test: Sendable, Equatable {
        /// The predicted class is one of these.
        case predicted([String])
        /// The score of the class is at least the threshold.
        case score(class: String, atLeast: Double)
    }

    /// The id of the earlier `classify` stage.
    public var stage: String
    /// The test on its result.
    public var test: Test

    /// The keys a `when` object may hold.
    static let keys = ["stage", "predicted", "score", "atLeast"]

    /// `nil` when the condition holds for the classify stage's report section, else why the stage is skipped.
    public func skipReason(report: JSON?) -> String? {
        guard let report else { return "\"\(stage)\" gave no result" }
        switch test {
        case .predicted(let classes):
            let predicted = report["predicted"]?.stringValue ?? "?"
            if classes.contains(predicted) { return nil }
            let wanted = classes.count == 1 ? "\"\(classes[0])\"" : "one of " + classes.map { "\"\($0)\"" }.joined(separator: ", ")
            return "\(stage) predicted \"\(predicted)\", not \(wanted)"
        case let .score(name, threshold):
            guard let score = report["scores"]?[name]?.doubleValue else { return "\(stage) gave no score for \"\(name)\"" }
            return score >= threshold ? nil : "\(stage) scored \"\(name)\" \(JSON.format(score)), below \(JSON.format(threshold))"
        }
    }

    /// The condition as written in a pipeline.
    public var json: JSON {
        switch test {
        case .predicted(let classes):
            return .object([("stage", .string(stage)), ("predicted", classes.count == 1 ? .string(classes[0]) : .array(classes.map { .string($0) }))])
        case let .score(name, threshold):
            return .object([("stage", .string(stage)), ("score", .string(name)), ("atLeast", .number(threshold))])
        }
    }

    /// The JSON Schema of a `when` object.
    static let schema: JSON = .object([
        ("description", .string("run this stage only when an earlier classify stage's result matches: {\"stage\": ID, \"predicted\": CLASS or [CLASS, …]} or {\"stage\": ID, \"score\": CLASS, \"atLeast\": NUMBER}; a skipped stage's dependants are skipped too")),
        ("type", .string("object")),
        ("additionalProperties", .bool(false)),
        ("required", .array([.string("stage")])),
        ("properties", .object([
            ("stage", .object([("type", .string("string"))])),
            ("predicted", .object([("oneOf", .array([.object([("type", .string("string"))]),
                                                      .object([("type", .string("array")), ("items", .object([("type", .string("string"))])), ("minItems", .int(1))])]))])),
            ("score", .object([("type", .string("string"))])),
            ("atLeast", .object([("type", .string("number"))])),
        ])),
    ])
}
