import FoundationEssentials
import VigilPlatform
import VigilResults

/// The single place probe results land and request handlers read from.
/// Writers are the probe threads; readers never wait on anything but this
/// mutex, held for a copy.
public final class HealthStore: ProbeResultSink {
    private struct State {
        var components: [ComponentHealth]
        var ready = false
        var generation = 0
    }

    private let state: Locked<State>
    private let telemetry: Telemetry?
    /// On the steady clock, as results' `finishedAt` and snapshots' `now` (SteadyClock).
    public let startedAt = Date(timeIntervalSince1970: SteadyClock.now)
    public let version: String

    public init(components: [ComponentHealth], version: String, telemetry: Telemetry? = nil) {
        state = Locked(State(components: components))
        self.version = version
        self.telemetry = telemetry
        telemetry?.describe(components)
        telemetry?.publish(snapshot())
    }

    public func record(_ result: ProbeResult) {
        state.withLock { state in
            if let index = state.components.firstIndex(where: { $0.name == result.probe }) {
                state.components[index].latest = result
            }
            state.generation += 1
        }
        telemetry?.record(result)
        telemetry?.publish(snapshot())
    }

    /// A reloaded configuration's components: those that stay keep their
    /// latest result until their next run; removed ones lose their series.
    public func reconfigure(_ components: [ComponentHealth]) {
        let removed = state.withLock { state -> [String] in
            let latest = Dictionary(state.components.map { ($0.name, $0.latest) }) { first, _ in first }
            let removed = state.components.map(\.name).filter { name in !components.contains { $0.name == name } }
            state.components = components.map { component in
                var component = component
                component.latest = latest[component.name] ?? nil
                component.awaitingFirstRun = latest[component.name] == nil
                return component
            }
            state.generation += 1
            return removed
        }
        telemetry?.forget(removed)
        telemetry?.describe(components)
        telemetry?.publish(snapshot())
    }

    public func firstRoundCompleted() { state.withLock { $0.ready = true } }

    /// True once every probe has reported once.
    public var isReady: Bool { state.withLock { $0.ready } }

    /// Increases with every recorded result: lets readers cache renderings.
    public var generation: Int { state.withLock { $0.generation } }

    public func snapshot(at now: Date = Date(timeIntervalSince1970: SteadyClock.now)) -> HealthSnapshot {
        state.withLock { HealthSnapshot(components: $0.components, now: now, startedAt: startedAt, version: version) }
    }
}
