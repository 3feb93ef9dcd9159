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

    /// By Unicode scalar, not Character: `"` followed by a combining mark is
    /// one Character, and Character-wise replacing left the quote raw (fuzzing, 2026-11).
    static func escape(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
