import Synchronization

/// Datums waiting to be sent, oldest first, at most `capacity`: past it the
/// oldest are dropped and counted, so a long CloudWatch outage costs old
/// data, never memory.
final class DatumBuffer: Sendable {
    private let capacity: Int
    private let state = Mutex<(datums: [MetricDatum], dropped: Int)>(([], 0))

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Appends; returns how many old datums were dropped to make room.
    @discardableResult
    func append(_ datums: [MetricDatum]) -> Int {
        state.withLock { state in
            state.datums += datums
            let overflow = max(0, state.datums.count - capacity)
            state.datums.removeFirst(overflow)
            state.dropped += overflow
            return overflow
        }
    }

    /// The oldest datums that fit one request (1000 datums, ~1 MB).
    func nextBatch(maxDatums: Int = 1000, maxBytes: Int = 900_000) -> [MetricDatum] {
        state.withLock { state in
            var size = 0
            var batch: [MetricDatum] = []
            for datum in state.datums {
                guard batch.count < maxDatums, size + datum.encodedSize <= maxBytes else { break }
                size += datum.encodedSize
                batch.append(datum)
            }
            return batch
        }
    }

    /// Removes the first `count` datums once they were accepted.
    func removeSent(_ count: Int) { state.withLock { $0.datums.removeFirst(min(count, $0.datums.count)) } }

    var count: Int { state.withLock { $0.datums.count } }
    var dropped: Int { state.withLock { $0.dropped } }
}
