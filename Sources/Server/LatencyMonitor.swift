import DataStore
import Glibc
import RESP

/// Per-command latency in power-of-two microsecond buckets (what LATENCY HISTOGRAM reports
/// and INFO latencystats summarizes), and the latency monitor's events (LATENCY LATEST,
/// HISTORY, RESET, DOCTOR) for commands slower than `latency-monitor-threshold` ms.
public struct LatencyHistogram {
    /// counts[i] counts calls that took at most 2^i µs (bucket 0: up to 1 µs). Stored
    /// inline: recording a call is an add, with no array to check for uniqueness.
    var counts = InlineArray<40, Int>(repeating: 0)
    public var calls = 0

    public init() {}

    /// The bucket counts, lowest first.
    public var buckets: [Int] {
        var out: [Int] = []
        out.reserveCapacity(counts.count)
        for i in counts.indices { out.append(counts[i]) }
        return out
    }

    /// The calls recorded since `earlier` was taken.
    public func minus(_ earlier: LatencyHistogram) -> LatencyHistogram {
        var out = self
        for i in counts.indices { out.counts[i] -= earlier.counts[i] }
        out.calls -= earlier.calls
        return out
    }

    @inline(__always)
    public mutating func record(_ micros: Int64) {
        let v = UInt64(max(1, micros))
        let i = min(39, 64 - (v - 1).leadingZeroBitCount)
        counts[i] += 1
        calls += 1
    }

    /// The bound of the bucket holding the `p`-th percentile, in µs.
    public func percentile(_ p: Double) -> Double {
        let target = Int((Double(calls) * p / 100).rounded(.up))
        var seen = 0
        for i in counts.indices {
            seen += counts[i]
            if seen >= max(1, target) { return Double(1 << i) }
        }
        return 0
    }
}

/// A latency monitor event's samples: (unix seconds, milliseconds), oldest first.
public struct LatencyEvent {
    public var samples: [(time: Int64, latency: Int64)] = []
    public var max: Int64 = 0
    public init() {}
}

extension CommandContext {
    /// Records a command's duration in its histogram and, past the monitor's threshold, as
    /// a `command` (or `fast-command`) latency event.
    func recordLatency(_ command: Command, micros: Int64) {
        if config.limits.latencyTracking { command.latency.record(micros) }
        if config.limits.latencyMonitorThreshold > 0 {
            server.recordLatencyEvent(command.flags.contains(.fast) ? "fast-command" : "command", micros: micros)
        }
    }
}

extension ServerState {
    /// A latency monitor sample of the event `name` (a command, an expire cycle, …) when it
    /// took at least latency-monitor-threshold milliseconds (Redis's latencyAddSampleIfNeeded):
    /// one sample a second, the highest, 160 kept.
    public func recordLatencyEvent(_ name: String, micros: Int64) {
        let threshold = config.limits.latencyMonitorThreshold
        guard threshold > 0, micros / 1000 >= threshold else { return }
        var event = latencyEvents[name] ?? LatencyEvent()
        let now = keyspace.now / 1000
        let ms = micros / 1000
        if let last = event.samples.last, last.time == now {
            event.samples[event.samples.count - 1].latency = Swift.max(last.latency, ms)
        } else {
            event.samples.append((now, ms))
            if event.samples.count > 160 { event.samples.removeFirst() }
        }
        event.max = Swift.max(event.max, ms)
        latencyEvents[name] = event
    }
}
