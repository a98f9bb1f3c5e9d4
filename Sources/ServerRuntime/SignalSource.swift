import Dispatch

/// Holds a dispatch signal source alive for the process's lifetime.
final class DispatchSourceSignalBox {
    let source: DispatchSourceSignal
    static let queue = DispatchQueue(label: "swiftlet.signals")

    init(signal: Int32, handler: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeSignalSource(signal: signal, queue: Self.queue)
        source.setEventHandler(handler: handler)
        source.resume()
    }
}
