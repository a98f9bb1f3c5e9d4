import DataStore
import RESP
import Server

enum LatencyCommands {
    /// LATENCY LATEST
    static func latest(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(
            ctx.server.latencyEvents.sorted { $0.key < $1.key }.compactMap { name, e in
                guard let last = e.samples.last else { return nil }
                return .array([.bulk(Array(name.utf8)), .integer(last.time), .integer(last.latency), .integer(e.max)])
            })
    }

    /// LATENCY HISTORY event
    static func history(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let e = ctx.server.latencyEvents[ctx.argString(2)] ?? LatencyEvent()
        return .array(e.samples.map { .array([.integer($0.time), .integer($0.latency)]) })
    }

    /// LATENCY RESET [event ...]
    static func reset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 2 {
            let n = ctx.server.latencyEvents.count
            ctx.server.latencyEvents.removeAll()
            return .integer(Int64(n))
        }
        var n = 0
        for i in 2..<ctx.argc where ctx.server.latencyEvents.removeValue(forKey: ctx.argString(i)) != nil { n += 1 }
        return .integer(Int64(n))
    }

    /// LATENCY GRAPH event
    static func graph(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let name = ctx.argString(2)
        guard let e = ctx.server.latencyEvents[name], !e.samples.isEmpty else { throw .latencyNoSamples(name) }
        var text =
            "\(name) - high \(e.max) ms, low \(e.samples.map(\.latency).min() ?? 0) ms (all time high \(e.max) ms)\n"
        text += String(repeating: "-", count: 80) + "\n"
        for s in e.samples { text += "\(s.time) \(String(repeating: "#", count: Int(min(60, s.latency))))\n" }
        return .verbatim(format: "txt", Array(text.utf8))
    }

    /// LATENCY DOCTOR
    static func doctor(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let text: String
        if ctx.config.limits.latencyMonitorThreshold == 0 {
            text =
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        } else if ctx.server.latencyEvents.isEmpty {
            text =
                "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n"
        } else {
            var t =
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
            for (i, (name, e)) in ctx.server.latencyEvents.sorted(by: { $0.key < $1.key }).enumerated() {
                let avg = e.samples.isEmpty ? 0 : e.samples.map(\.latency).reduce(0, +) / Int64(e.samples.count)
                t +=
                    "\(i + 1). \(name): \(e.samples.count) latency spikes (average \(avg)ms, mean deviation 0ms, period 0 sec). Worst all time event \(e.max)ms.\n"
            }
            t += "\nI have a few advices for you:\n\n- Check your slow log (SLOWLOG GET) for slow commands.\n"
            text = t
        }
        return .verbatim(format: "txt", Array(text.utf8))
    }

    /// LATENCY HISTOGRAM [command ...]
    static func histogram(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var commands: [Command] = []
        if ctx.argc == 2 {
            commands = ctx.server.commands.allCommands.filter { $0.latencySinceReset.calls > 0 }
        } else {
            for i in 2..<ctx.argc {
                // `container|sub` names one subcommand.
                let name = ctx.argString(i).lowercased()
                let parts = name.split(separator: "|", maxSplits: 1).map(String.init)
                guard let container = ctx.server.commands.lookup(parts[0]) else { continue }
                guard let c = parts.count == 2 ? container.subcommands[parts[1]] : container else { continue }
                if c.subcommands.isEmpty {
                    if c.latencySinceReset.calls > 0 { commands.append(c) }
                } else {
                    commands += c.subcommands.values.sorted { $0.fullName < $1.fullName }.filter {
                        $0.latencySinceReset.calls > 0
                    }
                }
            }
        }
        var items: [Reply] = []
        for c in commands {
            let latency = c.latencySinceReset
            var cumulative = 0
            var previous = -1
            var buckets: [Reply] = []
            for (i, n) in latency.buckets.enumerated() {
                cumulative += n
                if cumulative != previous && cumulative > 0 {
                    buckets += [.integer(Int64(1) << Int64(i)), .integer(Int64(cumulative))]
                    previous = cumulative
                }
                if cumulative == latency.calls { break }
            }
            items.append(.bulk(Array(c.fullName.utf8)))
            items.append(
                .map([.bulk("calls"), .integer(Int64(latency.calls)), .bulk("histogram_usec"), .map(buckets)]))
        }
        return .map(items)
    }

    /// LATENCY HELP
    static func help(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "LATENCY",
            [
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
            ])
    }
}

extension CommandTable {
    static let latencyRegistrations: [(String, Handler)] = [
        ("latency", { _ throws(CommandError) in .null }),
        ("latency|latest", LatencyCommands.latest),
        ("latency|history", LatencyCommands.history),
        ("latency|reset", LatencyCommands.reset),
        ("latency|graph", LatencyCommands.graph),
        ("latency|doctor", LatencyCommands.doctor),
        ("latency|histogram", LatencyCommands.histogram),
        ("latency|help", LatencyCommands.help),
    ]
}
