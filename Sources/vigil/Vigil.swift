import ArgumentParser
import FoundationEssentials
import Glibc
import VigilAWS
import VigilPlatform

/// `vigil`: health monitor and Prometheus exporter.
@main
struct Vigil: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Health monitor and Prometheus exporter for services whose credentials live in AWS Secrets Manager.",
        version: BuildInfo.version,
        subcommands: [Serve.self, Check.self, SecretsCommand.self, ConfigCommand.self, IAMPolicyCommand.self, TokenCommand.self, ExecCommand.self, HealthcheckCommand.self, VersionCommand.self],
        defaultSubcommand: Serve.self)

    /// A peer resetting a connection (a TLS Redis, libpq, libcurl) must cost
    /// a failed write, not the process, in every command.
    static func main() {
        // The Swift runtime reads the arguments from /proc/self/cmdline: without /proc (a bare chroot) they
        // are empty, and `vigil healthcheck` would silently become `vigil serve`. (Under an LD_PRELOAD
        // such as libfaketime they can be empty with /proc there: ClockStepTests configure by environment.)
        guard !CommandLine.arguments.isEmpty || access("/proc/self/cmdline", R_OK) == 0 else {
            writeStandardError("vigil: cannot read the command line: /proc is not mounted (the Swift runtime reads /proc/self/cmdline)\n")
            Glibc.exit(71)  // EX_OSERR
        }
        signal(SIGPIPE, SIG_IGN)
        // Ignored SIGCHLD survives exec (a parent may start Vigil so): children would be reaped
        // by the kernel, and a hook's or `vigil exec`'s application's status lost.
        signal(SIGCHLD, SIG_DFL)
        keepOpenSSLAtExit()
        main(nil)
    }
}

enum BuildInfo {
    static let version = "0.1.0"
    /// SwiftPM cannot inject a string at build time without a plugin, so
    /// packagers stamp the revision through the environment at start-up.
    static var revision: String {
        ProcessInfo.processInfo.environment["VIGIL_BUILD_REVISION"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
    }
}

/// sysexits(3) EX_CONFIG: what `vigil check` and `serve` exit with on bad configuration.
let exitConfigError: Int32 = 78

/// Prints `vigil: <error>` on standard error and gives the exit code to throw.
func reportFailure(_ error: any Error, exitCode: Int32 = ExitCode.failure.rawValue) -> ExitCode {
    reportFailure("\(error)", exitCode: exitCode)
}

func reportFailure(_ message: String, exitCode: Int32 = ExitCode.failure.rawValue) -> ExitCode {
    writeStandardError("vigil: \(message)\n")
    return ExitCode(exitCode)
}
