import Testing
import VigilConfig
@testable import VigilHooks

/// The schedule's rules as transitions: no run for the version an
/// application started with, one run for a burst, one more for a change
/// while running, a cap on a burst that never pauses, reloads.
struct HookScheduleTests {
    static func hook(_ name: String, on secrets: [String], debounce: Duration = .milliseconds(200)) -> VigilConfig.Hook {
        VigilConfig.Hook(name: name, secrets: secrets, action: .command(["true"]), timeout: .seconds(30), debounce: debounce)
    }

    static func version(_ name: String, _ version: String) -> HookSchedule.Change {
        HookSchedule.Change(name: name, secretID: "app/\(name)", versionID: version, stage: "AWSCURRENT")
    }

    @Test func theFirstVersionRunsNothingAndAMoveRunsOnceAfterTheDebounce() {
        var schedule = HookSchedule()
        schedule.configure([Self.hook("app", on: ["db"])])
        schedule.observe([Self.version("db", "v1")], at: 0)
        #expect(schedule.nextDue == nil)
        schedule.observe([Self.version("db", "v1")], at: 1)
        #expect(schedule.nextDue == nil, "confirmed again is no change")
        schedule.observe([Self.version("db", "v2")], at: 2)
        #expect(schedule.start(at: 2.1).isEmpty)
        let runs = schedule.start(at: 2.2)
        #expect(runs.map(\.hook.name) == ["app"] && runs.first?.changes == [Self.version("db", "v2")])
        #expect(schedule.start(at: 10).isEmpty && schedule.nextDue == nil)
    }

    @Test func aBurstRunsOnceAndNeverLaterThanFourDebounces() {
        var schedule = HookSchedule()
        schedule.configure([Self.hook("app", on: ["db", "cache"])])
        schedule.observe([Self.version("db", "v1"), Self.version("cache", "c1")], at: 0)
        for (step, time) in stride(from: 1.0, through: 1.7, by: 0.1).enumerated() {
            schedule.observe([Self.version("db", "v\(step + 2)")], at: time)
        }
        schedule.observe([Self.version("cache", "c2")], at: 1.75)
        #expect(schedule.nextDue == 1.8, "4 x 200 ms after the first change, though changes go on")
        let runs = schedule.start(at: 1.8)
        #expect(runs.count == 1 && runs[0].changes.map(\.name) == ["db", "cache"] && runs[0].changes[0].versionID == "v9")
    }

    @Test func aChangeWhileRunningRunsOnceMoreAfterwards() {
        var schedule = HookSchedule()
        schedule.configure([Self.hook("app", on: ["db"]), Self.hook("other", on: ["cache"])])
        schedule.observe([Self.version("db", "v1"), Self.version("cache", "c1")], at: 0)
        schedule.observe([Self.version("db", "v2")], at: 1)
        #expect(schedule.start(at: 1.2).count == 1)
        schedule.observe([Self.version("db", "v3")], at: 1.5)
        #expect(schedule.start(at: 1.8).isEmpty && schedule.nextDue == nil, "one run at a time; the other hook owes nothing")
        schedule.finished("app")
        #expect(schedule.nextDue == 1.7)
        #expect(schedule.start(at: 1.8).first?.changes == [Self.version("db", "v3")])
    }

    @Test func aReloadAddsAndRemovesHooksAndKeepsTheVersionsSeen() {
        var schedule = HookSchedule()
        schedule.configure([Self.hook("old", on: ["db"])])
        schedule.observe([Self.version("db", "v1")], at: 0)
        schedule.observe([Self.version("db", "v2")], at: 1)
        schedule.configure([Self.hook("new", on: ["db"], debounce: .zero)])
        #expect(schedule.nextDue == nil, "the removed hook's run is dropped")
        schedule.observe([Self.version("db", "v2")], at: 2)
        #expect(schedule.nextDue == nil, "v2 was seen before the reload")
        schedule.observe([Self.version("db", "v3")], at: 3)
        #expect(schedule.start(at: 3).map(\.hook.name) == ["new"])
    }
}
