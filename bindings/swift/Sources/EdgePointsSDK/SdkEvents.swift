// Hand-written beside the generated bindings: what Swift developers expect
// that uniffi does not generate.
import Foundation

/// The SDK's events as an `AsyncStream`: pass it as the listener when
/// opening the SDK, then iterate `stream()` wherever the UI needs them.
///
/// ```swift
/// let events = SdkEvents()
/// let sdk = try EdgePoints(config: config, listener: events)
/// Task { @MainActor in
///     for await event in events.stream() {
///         if case let .pointsCredited(_, balance, _) = event { self.balance = balance }
///     }
/// }
/// ```
///
/// Events come from SDK threads and never wait for a slow reader: a stream
/// more than `bufferSize` events behind loses the oldest ones. Events say
/// that something changed; the SDK's reads (`points().balance()`,
/// `rental().status()`, …) stay the truth, so a screen that appears reads
/// first and then follows the events.
public final class SdkEvents: EventListener, @unchecked Sendable {
    // Guarded by `lock`; the SDK calls `onEvent` from its own threads.
    private let lock = NSLock()
    private var streams: [UUID: AsyncStream<SdkEvent>.Continuation] = [:]

    /// How many events a slow reader may fall behind before the oldest go.
    public let bufferSize: Int

    /// An event fan-out with room for `bufferSize` unread events per stream.
    public init(bufferSize: Int = 256) {
        self.bufferSize = bufferSize
    }

    /// Every event from now on, until the stream's task is cancelled.
    public func stream() -> AsyncStream<SdkEvent> {
        AsyncStream(bufferingPolicy: .bufferingNewest(bufferSize)) { continuation in
            let id = UUID()
            lock.lock()
            streams[id] = continuation
            lock.unlock()
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.lock.lock()
                self.streams[id] = nil
                self.lock.unlock()
            }
        }
    }

    /// Called by the SDK; never blocks it.
    public func onEvent(event: SdkEvent) throws {
        lock.lock()
        let open = Array(streams.values)
        lock.unlock()
        for continuation in open {
            continuation.yield(event)
        }
    }
}

/// The SDK's own wording ("not enough points: the balance is 3, 4 are
/// needed") for `"\(error)"`, `print(error)` and `localizedDescription`.
extension EdgePointsError: CustomStringConvertible {}
