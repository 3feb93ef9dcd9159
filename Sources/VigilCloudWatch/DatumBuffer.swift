import VigilPlatform

/// Datums waiting to be sent, oldest first, from at most `collections`
/// intervals: past them the oldest interval's are dropped and counted, so a
/// long CloudWatch outage costs old data, never memory. Counted in
/// intervals, not datums, because an interval's datums grow with the
/// targets (8 + 2 per probe + named ones + error codes): a fixed count of
/// 20 an interval held 47-104 of the 120 minutes it promised, and dropped
/// the first datums of every interval with a buffer shorter than one.
/// Each datum carries a sequence number, so removing a sent batch removes
/// exactly its datums even when overflow dropped some of them (or older
/// ones) while the request was in flight.
final class DatumBuffer: Sendable {
    private let collections: Int
    private struct State {
        var datums: [(sequence: Int, collection: Int, datum: MetricDatum)] = []
        var nextSequence = 0
        var nextCollection = 0
    }
    private let state = Locked(State())

    init(collections: Int) { self.collections = max(1, collections) }

    /// Appends one interval's datums; returns how many old datums were
    /// dropped to make room.
    @discardableResult
    func append(_ datums: [MetricDatum]) -> Int {
        state.withLock { state in
            let collection = state.nextCollection
            state.nextCollection += 1
            for datum in datums {
                state.datums.append((state.nextSequence, collection, datum))
                state.nextSequence += 1
            }
            let oldestKept = collection - collections + 1
            let overflow = state.datums.prefix { $0.collection < oldestKept }.count
            state.datums.removeFirst(overflow)
            return overflow
        }
    }

    /// The oldest datums that fit one request (1000 datums, ~1 MB), and the
    /// sequence number of the last one (for `remove(through:)`).
    func nextBatch(maxDatums: Int = 1000, maxBytes: Int = 900_000) -> (datums: [MetricDatum], last: Int) {
        state.withLock { state in
            var size = 0
            var batch: [MetricDatum] = []
            var last = -1
            for (sequence, _, datum) in state.datums {
                guard batch.count < maxDatums, size + datum.encodedSize <= maxBytes else { break }
                size += datum.encodedSize
                batch.append(datum)
                last = sequence
            }
            return (batch, last)
        }
    }

    /// Removes the datums up to sequence number `last` (sent, or rejected for
    /// good); returns how many were still there (overflow may have dropped
    /// some of them meanwhile, and counted them).
    func remove(through last: Int) -> Int {
        state.withLock { state in
            let before = state.datums.count
            state.datums.removeAll { $0.sequence <= last }
            return before - state.datums.count
        }
    }

    var count: Int { state.withLock { $0.datums.count } }
}
