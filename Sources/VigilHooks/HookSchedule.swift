import VigilConfig
import VigilPlatform

/// When each hook runs, as a value: the versions seen, the changes each
/// hook owes a run for, and its debounce, fed events (versions observed, a
/// run finished, the clock) and answering which runs to start. No threads
/// or processes here (`HookRunner` is the shell), so the rules are tested
/// as plain transitions.
struct HookSchedule: Sendable {
    /// One secret's move to another version, as a hook's environment tells it.
    struct Change: Sendable, Equatable {
        var name: String
        var secretID: String
        var versionID: String
        var stage: String
    }

    private struct Slot: Sendable {
        var hook: VigilConfig.Hook
        var changes: [Change] = []
        /// The first change not yet run for, and when the run is due.
        var first: Double?
        var due: Double?
        var running = false

        mutating func owe(_ change: Change, at now: Double) {
            changes.removeAll { $0.name == change.name }
            changes.append(change)
            let debounce = hook.debounce.timeInterval
            let first = self.first ?? now
            self.first = first
            due = min(now + debounce, first + 4 * debounce)
        }
    }

    /// The last version seen of each item; the first one seen runs nothing (the application started with it).
    private var seen: [String: String] = [:]
    private var slots: [String: Slot] = [:]

    /// A reload: new and changed hooks take effect, removed ones drop what they owed; a running one finishes.
    mutating func configure(_ hooks: [VigilConfig.Hook]) {
        slots = Dictionary(uniqueKeysWithValues: hooks.map { hook in
            var slot = slots[hook.name] ?? Slot(hook: hook)
            slot.hook = hook
            return (hook.name, slot)
        })
    }

    /// The versions the cache holds now (items without one, such as an
    /// environment fallback, left out): each item whose version moved owes
    /// a run of every hook listing it, `debounce` after the last change and
    /// at most 4 debounces after the first.
    mutating func observe(_ versions: [Change], at now: Double) {
        for change in versions {
            let before = seen.updateValue(change.versionID, forKey: change.name)
            guard let before, before != change.versionID else { continue }
            for name in slots.keys where slots[name]!.hook.secrets.contains(change.name) {
                slots[name]!.owe(change, at: now)
            }
        }
    }

    /// The runs due at `now`, each marked running with the changes it reports.
    mutating func start(at now: Double) -> [(hook: VigilConfig.Hook, changes: [Change])] {
        var runs: [(hook: VigilConfig.Hook, changes: [Change])] = []
        for name in slots.keys.sorted() {
            guard let slot = slots[name], !slot.running, let due = slot.due, due <= now else { continue }
            runs.append((slot.hook, slot.changes))
            slots[name] = Slot(hook: slot.hook, running: true)
        }
        return runs
    }

    /// A run ended: changes that came meanwhile run it once more (their debounce kept).
    mutating func finished(_ name: String) {
        slots[name]?.running = false
    }

    var hasHooks: Bool { !slots.isEmpty }

    /// When `start` next has something to do.
    var nextDue: Double? { slots.values.filter { !$0.running }.compactMap(\.due).min() }
}
