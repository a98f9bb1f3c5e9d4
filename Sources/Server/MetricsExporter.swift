import CoreMetrics
import Prometheus

/// The Prometheus exposition of the figures a dashboard needs, taken from INFO at each
/// scrape. Names follow redis_exporter's (`redis_connected_clients`,
/// `redis_commands_total{cmd="get"}`, …), so dashboards built for Redis read Swiftlet
/// unchanged. Gauges and counters live in a swift-prometheus registry behind swift-metrics'
/// API; per-command latency histograms are written from the command table's own
/// power-of-two buckets (recording each call into a second histogram would cost the hot
/// path). Runs on the server's loop, like a command (hence unchecked Sendable: it is
/// handed to the listener's initializer but only ever used on that loop).
public final class MetricsExporter: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let context: CommandContext
    /// The last value each counter was brought to: INFO gives totals, counters take
    /// increments (a total that went down — CONFIG RESETSTAT — counts from zero again).
    var lastTotals: [String: Int64] = [:]
    var gauges: [String: CoreMetrics.Gauge] = [:]
    var counters: [String: CoreMetrics.Counter] = [:]

    public init(server: ServerState) {
        factory = PrometheusMetricsFactory(registry: registry)
        let session = ClientSession(
            id: server.makeClientId(), address: "", localAddress: "", fd: -1, authenticated: true, now: 0)
        context = CommandContext(server: server, session: session)
        context.mayBlock = false
    }

    /// The fields of INFO's sections, by name.
    func info(_ sections: [String]) -> [String: String] {
        var fields: [String: String] = [:]
        for name in sections {
            guard let text = InfoRenderer.section(name, context) else { continue }
            for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
            }
        }
        return fields
    }

    static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    func gauge(_ name: String, _ value: Double, labels: [(String, String)] = []) {
        let key = Self.key(name, labels)
        let g = gauges[key] ?? CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
        gauges[key] = g
        g.record(value)
    }

    func counter(_ name: String, total: Int64, labels: [(String, String)] = []) {
        let key = Self.key(name, labels)
        let c = counters[key] ?? CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        counters[key] = c
        let last = lastTotals[key] ?? 0
        let delta = total >= last ? total - last : total
        if delta > 0 { c.increment(by: delta) }
        lastTotals[key] = total
    }

    /// The text of one scrape.
    public func scrape() -> [UInt8] {
        let f = info(["server", "clients", "memory", "persistence", "stats", "commandstats", "keyspace"])
        func number(_ field: String) -> Double { Double(f[field] ?? "") ?? 0 }
        func integer(_ field: String) -> Int64 { Int64(f[field] ?? "") ?? 0 }

        gauge("redis_up", 1)
        gauge("redis_uptime_in_seconds", number("uptime_in_seconds"))
        gauge("redis_connected_clients", number("connected_clients"))
        gauge("redis_blocked_clients", number("blocked_clients"))
        gauge("redis_memory_used_bytes", number("used_memory"))
        gauge("redis_memory_used_rss_bytes", number("used_memory_rss"))
        gauge("redis_memory_used_peak_bytes", number("used_memory_peak"))
        gauge("redis_memory_max_bytes", number("maxmemory"))
        gauge("redis_mem_fragmentation_ratio", number("mem_fragmentation_ratio"))
        gauge("redis_instantaneous_ops_per_sec", number("instantaneous_ops_per_sec"))
        counter("redis_commands_processed_total", total: integer("total_commands_processed"))
        counter("redis_connections_received_total", total: integer("total_connections_received"))
        counter("redis_rejected_connections_total", total: integer("rejected_connections"))
        counter("redis_net_input_bytes_total", total: integer("total_net_input_bytes"))
        counter("redis_net_output_bytes_total", total: integer("total_net_output_bytes"))
        counter("redis_keyspace_hits_total", total: integer("keyspace_hits"))
        counter("redis_keyspace_misses_total", total: integer("keyspace_misses"))
        counter("redis_expired_keys_total", total: integer("expired_keys"))
        counter("redis_evicted_keys_total", total: integer("evicted_keys"))
        gauge("redis_loading_dump_file", number("loading"))
        gauge("redis_rdb_changes_since_last_save", number("rdb_changes_since_last_save"))
        gauge("redis_rdb_bgsave_in_progress", number("rdb_bgsave_in_progress"))
        gauge("redis_rdb_last_save_timestamp_seconds", number("rdb_last_save_time"))
        gauge("redis_rdb_last_bgsave_status", f["rdb_last_bgsave_status"] == "ok" ? 1 : 0)
        gauge("redis_aof_enabled", number("aof_enabled"))
        gauge("redis_aof_rewrite_in_progress", number("aof_rewrite_in_progress"))
        gauge("redis_aof_last_bgrewrite_status", f["aof_last_bgrewrite_status"] == "ok" ? 1 : 0)
        gauge("redis_aof_last_write_status", f["aof_last_write_status"] == "ok" ? 1 : 0)

        for (field, value) in f where field.hasPrefix("db") {
            guard let index = Int(field.dropFirst(2)) else { continue }
            let parts = Self.pairs(value)
            let db = [("db", "db\(index)")]
            gauge("redis_db_keys", Double(parts["keys"] ?? "") ?? 0, labels: db)
            gauge("redis_db_keys_expiring", Double(parts["expires"] ?? "") ?? 0, labels: db)
        }
        for (field, value) in f where field.hasPrefix("cmdstat_") {
            let name = String(field.dropFirst(8))
            let parts = Self.pairs(value)
            let cmd = [("cmd", name)]
            counter("redis_commands_total", total: Int64(parts["calls"] ?? "") ?? 0, labels: cmd)
            counter("redis_commands_failed_calls_total", total: Int64(parts["failed_calls"] ?? "") ?? 0, labels: cmd)
            counter(
                "redis_commands_rejected_calls_total", total: Int64(parts["rejected_calls"] ?? "") ?? 0, labels: cmd)
            // Microseconds as a counter of whole microseconds; the seconds figure is below.
            counter(
                "swiftlet_commands_duration_microseconds_total", total: Int64(parts["usec"] ?? "") ?? 0, labels: cmd)
        }
        var out = registry.emitToBuffer()
        out += latencyHistograms()
        return out
    }

    /// `swiftlet_command_duration_seconds` per command, from the command table's latency
    /// buckets (bucket i: at most 2^i µs), in Prometheus's cumulative form.
    func latencyHistograms() -> [UInt8] {
        var text = "# TYPE swiftlet_command_duration_seconds histogram\n"
        let commands = context.server.commands.allCommands.filter { $0.latency.calls > 0 }
            .sorted { $0.fullName < $1.fullName }
        for c in commands {
            let cmd = "cmd=\"\(c.fullName)\""
            var cumulative = 0
            let lastUsed = c.latency.buckets.lastIndex { $0 > 0 } ?? 0
            for (i, n) in c.latency.buckets.enumerated() where i <= lastUsed {
                cumulative += n
                text +=
                    "swiftlet_command_duration_seconds_bucket{\(cmd),le=\"\(Self.seconds(1 << i))\"} \(cumulative)\n"
            }
            text += "swiftlet_command_duration_seconds_bucket{\(cmd),le=\"+Inf\"} \(c.latency.calls)\n"
            text += "swiftlet_command_duration_seconds_sum{\(cmd)} \(Double(c.microseconds) / 1_000_000)\n"
            text += "swiftlet_command_duration_seconds_count{\(cmd)} \(c.latency.calls)\n"
        }
        return Array(text.utf8)
    }

    static func seconds(_ micros: Int) -> String {
        // Exact decimal of micros / 10^6 (no float rounding in bucket labels).
        let whole = micros / 1_000_000
        var fraction = String(micros % 1_000_000)
        while fraction.count < 6 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    /// `a=1,b=2` as a dictionary.
    static func pairs(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in text.split(separator: ",") {
            guard let eq = part.firstIndex(of: "=") else { continue }
            out[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        return out
    }
}
