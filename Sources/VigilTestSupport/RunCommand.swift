import Foundation
import Glibc

/// Runs a command to completion, output discarded (scripts/services, psql,
/// aws): its exit code, or -1 if it could not start.
public func runCommand(_ arguments: [String], environment: [String: String] = [:]) -> Int32 {
    guard let child = try? ChildProcess(arguments, environment: environment, capture: false) else { return -1 }
    return child.terminationStatus
}
