import VigilPlatform

/// The small HTML page at `/`, as every Prometheus exporter has.
enum LandingPage {
    static func html(version: String, telemetryPath: String) -> String {
        """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>Vigil</title></head>
        <body>
        <h1>Vigil</h1>
        <p>Health monitor and Prometheus exporter for services whose credentials live in AWS Secrets Manager. Version \(escape(version)).</p>
        <ul>
        <li><a href="\(escape(telemetryPath))">Metrics</a></li>
        <li><a href="/health">Health</a> (<a href="/health/live">live</a>, <a href="/health/ready">ready</a>)</li>
        </ul>
        </body></html>

        """
    }

    /// By Unicode scalar, not Character (fuzzing, 2026-11: see `replacingScalars`).
    static func escape(_ text: String) -> String {
        text.replacingScalars { scalar in
            switch scalar {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            case "\"": "&quot;"
            default: nil
            }
        }
    }
}
