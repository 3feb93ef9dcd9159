/// One thing wrong with the configuration, located precisely enough to fix
/// it: the key path, and where it came from (file and line, environment
/// variable or flag).
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var origin: String?
    public var message: String

    public init(key: String, origin: String?, message: String) {
        self.key = key
        self.origin = origin
        self.message = message
    }

    public var description: String {
        origin.map { "\($0): \(key): \(message)" } ?? "\(key): \(message)"
    }
}

/// Every problem found, reported together so one run fixes them all.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) { self.problems = problems }

    public var description: String {
        "invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
