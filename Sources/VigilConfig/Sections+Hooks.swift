import VigilPlatform

extension VigilConfig {
    /// A command run, or a signal sent, when a secret's version changes
    /// (`hooks.<name>`): how an application that read its secrets at start
    /// learns of a rotation (docs/hooks.md).
    public struct Hook: Sendable, Equatable {
        public enum Action: Sendable, Equatable {
            /// An argv, run without a shell.
            case command([String])
            /// A signal to the process whose pid the file holds.
            case signal(Int32, pidFile: String)
        }

        public var name: String
        /// `secrets.items` names.
        public var secrets: [String]
        public var action: Action
        public var timeout: Duration
        public var debounce: Duration

        public init(name: String, secrets: [String], action: Action, timeout: Duration, debounce: Duration) {
            (self.name, self.secrets, self.action, self.timeout, self.debounce) = (name, secrets, action, timeout, debounce)
        }

        static func read(_ reader: inout ConfigReader, items: [String]) -> [Hook] {
            reader.raw.names(under: "hooks").sorted().map { name in
                let base = "hooks.\(name)"
                let secrets = reader.list("\(base).secrets")
                reader.check("\(base).secrets", !secrets.isEmpty, "required: the secrets.items whose version change runs the hook")
                for secret in secrets where !items.contains(secret) {
                    reader.check("\(base).secrets", false, "\(secret) is not a secrets.items entry" + NearestName.hint(secret, among: items))
                }
                let command = reader.list("\(base).command"), pidFile = reader.optional("\(base).pid_file")
                reader.check(base, command.isEmpty != (pidFile == nil), "needs either command (an argv) or pid_file (with signal), not both")
                let signalName = reader.text("\(base).signal")
                let signal = SignalName.parse(signalName.isEmpty ? "HUP" : signalName)
                reader.check("\(base).signal", signal != nil,
                             "invalid value \"\(signalName)\": expected one of " + SignalName.known.keys.sorted().joined(separator: ", "))
                reader.check("\(base).signal", signalName.isEmpty || pidFile != nil, "only with pid_file (a command is run, not signalled)")
                reader.check("\(base).pid_file", pidFile?.hasPrefix("/") ?? true, "must be an absolute path")
                let timeout = reader.duration("\(base).timeout", atLeast: .milliseconds(100), atMost: .seconds(3600))
                let debounce = reader.duration("\(base).debounce", atLeast: .zero, atMost: .seconds(600))
                let action: Action = pidFile.map { .signal(signal ?? 0, pidFile: $0) } ?? .command(command)
                return Hook(name: name, secrets: secrets, action: action, timeout: timeout, debounce: debounce)
            }
        }
    }
}
