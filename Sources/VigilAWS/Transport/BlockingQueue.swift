import Dispatch

/// Where blocking calls (libcurl, locks held across AWS calls) run for
/// `async` callers: a dedicated concurrent queue, never Swift's cooperative
/// pool, which must not be blocked.
public enum BlockingQueue {
    private static let queue = DispatchQueue(label: "vigil.blocking", attributes: .concurrent)

    /// Runs `work` on the queue and resumes the caller with its outcome.
    public static func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(E) { continuation.resume(returning: .success(try work())) }
                catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }
}
