import FoundationEssentials
import VigilPlatform

/// How much of `/health` a caller sees (`health.show_details`).
public enum HealthDetail: Sendable, CaseIterable {
    /// The status words only: overall `status`, `services`, and each
    /// check's `status` and `critical`. What a load balancer needs, and
    /// nothing that names a host, a port, an error or a secret.
    case statusOnly
    /// Also each check's reason, latency, time and detail, the version and uptime.
    case full
    /// `full` and each probe's phase timings (`?verbose`).
    case verbose
}

extension HealthSnapshot {
    /// `/health` as JSON: `{"status", "services", "checks", "version", "uptime_seconds"}`.
    /// Written by hand to keep the documented key order; every string goes
    /// through `JSONWriter.quote`.
    public func json(_ detail: HealthDetail = .full) -> String {
        let services = components.map { "\(JSONWriter.quote($0.name)):\(JSONWriter.quote($0.serviceState(at: now)))" }
        let checks = components.map { component -> String in
            var fields = [
                ("status", JSONWriter.quote(component.latest == nil ? "unknown" : component.status(at: now).rawValue)),
                ("critical", component.critical ? "true" : "false"),
            ]
            if let latest = component.latest, detail != .statusOnly {
                fields += [
                    ("reason", JSONWriter.quote(latest.reason.rawValue)),
                    ("latency_ms", JSONWriter.number(latest.latency.milliseconds)),
                    ("last_checked", JSONWriter.quote(JSONWriter.rfc3339(latest.finishedAt.shown))),
                ]
                if !latest.detail.isEmpty { fields.append(("detail", JSONWriter.quote(latest.detail))) }
                if detail == .verbose && !latest.phases.isEmpty {
                    fields.append(("phases_ms", JSONWriter.object(latest.phases.map { ($0.name, JSONWriter.number($0.duration.milliseconds)) })))
                }
                if detail == .verbose && !latest.facts.isEmpty {
                    fields.append(("facts", JSONWriter.object(latest.facts.map { fact in
                        (fact.subject, JSONWriter.object(fact.fields.map { ($0.name, JSONWriter.quote($0.value)) }))
                    })))
                }
            }
            return "\(JSONWriter.quote(component.name)):" + JSONWriter.object(fields)
        }
        let head = "{\"status\":\(JSONWriter.quote(status.rawValue)),"
            + "\"services\":{\(services.joined(separator: ","))},"
            + "\"checks\":{\(checks.joined(separator: ","))}"
        guard detail != .statusOnly else { return head + "}\n" }
        return head + ",\"version\":\(JSONWriter.quote(version)),"
            + "\"uptime_seconds\":\(JSONWriter.number(now.timeIntervalSince(startedAt)))}\n"
    }

    /// The IETF "Health Check Response Format for HTTP APIs" draft
    /// (`application/health+json`): pass/warn/fail, checks keyed
    /// `component:measurement`. `statusOnly` keeps each check's id, type and
    /// status, without values, times or output.
    public func healthJSON(_ detail: HealthDetail = .full) -> String {
        func word(_ status: HealthStatus) -> String {
            switch status {
            case .healthy: "pass"
            case .degraded: "warn"
            case .unhealthy: "fail"
            }
        }
        let checks = components.map { component -> String in
            let measurement = component.reportsConnection ? "responseTime" : "freshness"
            var fields = [("componentId", JSONWriter.quote(component.name)),
                          ("componentType", JSONWriter.quote(component.reportsConnection ? "datastore" : "component")),
                          ("status", JSONWriter.quote(component.latest == nil ? "fail" : word(component.status(at: now))))]
            if let latest = component.latest, detail != .statusOnly {
                fields += [("observedValue", JSONWriter.number(latest.latency.milliseconds)),
                           ("observedUnit", JSONWriter.quote("ms")),
                           ("time", JSONWriter.quote(JSONWriter.rfc3339(latest.finishedAt.shown)))]
                if !latest.succeeded || latest.degraded { fields.append(("output", JSONWriter.quote(latest.detail))) }
            }
            return "\(JSONWriter.quote("\(component.name):\(measurement)")):[" + JSONWriter.object(fields) + "]"
        }
        let version = detail == .statusOnly ? "" : "\"version\":\(JSONWriter.quote(version)),"
        return "{\"status\":\(JSONWriter.quote(word(status))),\(version)"
            + "\"serviceId\":\"vigil\",\"description\":\"Vigil health\","
            + "\"checks\":{\(checks.joined(separator: ","))}}\n"
    }
}

extension JSONWriter {
    static func rfc3339(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
