import DataStore
import OrderedCollections
import RESP
import Server

/// Pub/Sub, as pubsub.c: channel, pattern and shard-channel subscriptions, PUBLISH and
/// SPUBLISH delivered at once to every subscriber (RESP2 arrays, RESP3 pushes), PUBSUB
/// introspection. A RESP2 client with subscriptions may only run the commands in
/// `Command.subscribedModeCommands` (the dispatcher refuses the rest with Redis's error).
enum PubSubCommands {
    enum Kind {
        case channel, pattern, shard

        var subscribeName: String {
            switch self {
            case .channel: return "subscribe"
            case .pattern: return "psubscribe"
            case .shard: return "ssubscribe"
            }
        }

        var unsubscribeName: String {
            switch self {
            case .channel: return "unsubscribe"
            case .pattern: return "punsubscribe"
            case .shard: return "sunsubscribe"
            }
        }
    }

    static func subscriptions(_ s: ClientSession, _ kind: Kind) -> OrderedSet<[UInt8]> {
        switch kind {
        case .channel: return s.channels
        case .pattern: return s.patterns
        case .shard: return s.shardChannels
        }
    }

    static func count(_ s: ClientSession, _ kind: Kind) -> Int {
        kind == .shard ? s.shardChannels.count : s.subscriptionCount
    }

    /// One subscribe/unsubscribe confirmation, sent as its own message.
    static func confirm(_ ctx: CommandContext, _ name: String, _ target: [UInt8]?, _ count: Int) {
        let items: [Reply] = [.bulk(name), target.map { .bulk($0) } ?? .null, .integer(Int64(count))]
        ctx.emitPush(ctx.session.resp3 ? .push(items) : .array(items))
    }

    static func subscribe(_ ctx: CommandContext, _ kind: Kind) -> Reply {
        let s = ctx.session
        let server = ctx.server
        for i in 1..<ctx.argc {
            let target = ctx.argBytes(i)
            switch kind {
            case .channel:
                if s.channels.append(target).inserted { server.channelSubscribers[target, default: []].append(s) }
            case .pattern:
                if s.patterns.append(target).inserted { server.patternSubscribers[target, default: []].append(s) }
            case .shard:
                if s.shardChannels.append(target).inserted { server.shardSubscribers[target, default: []].append(s) }
            }
            confirm(ctx, kind.subscribeName, target, count(s, kind))
        }
        return .raw([])
    }

    static func unsubscribe(_ ctx: CommandContext, _ kind: Kind) -> Reply {
        let s = ctx.session
        let server = ctx.server
        let targets: [[UInt8]] = ctx.argc > 1 ? (1..<ctx.argc).map { ctx.argBytes($0) } : Array(subscriptions(s, kind))
        if targets.isEmpty {
            confirm(ctx, kind.unsubscribeName, nil, count(s, kind))
            return .raw([])
        }
        for target in targets {
            switch kind {
            case .channel:
                if s.channels.remove(target) != nil { ServerState.remove(s, from: &server.channelSubscribers, target) }
            case .pattern:
                if s.patterns.remove(target) != nil { ServerState.remove(s, from: &server.patternSubscribers, target) }
            case .shard:
                if s.shardChannels.remove(target) != nil {
                    ServerState.remove(s, from: &server.shardSubscribers, target)
                }
            }
            confirm(ctx, kind.unsubscribeName, target, count(s, kind))
        }
        return .raw([])
    }

    /// SUBSCRIBE channel [channel ...]
    static func subscribeCommand(_ ctx: CommandContext) throws(CommandError) -> Reply { subscribe(ctx, .channel) }
    /// PSUBSCRIBE pattern [pattern ...]
    static func psubscribe(_ ctx: CommandContext) throws(CommandError) -> Reply { subscribe(ctx, .pattern) }
    /// SSUBSCRIBE shardchannel [shardchannel ...]
    static func ssubscribe(_ ctx: CommandContext) throws(CommandError) -> Reply { subscribe(ctx, .shard) }
    /// UNSUBSCRIBE [channel [channel ...]]
    static func unsubscribeCommand(_ ctx: CommandContext) throws(CommandError) -> Reply {
        unsubscribe(ctx, .channel)
    }
    /// PUNSUBSCRIBE [pattern [pattern ...]]
    static func punsubscribe(_ ctx: CommandContext) throws(CommandError) -> Reply { unsubscribe(ctx, .pattern) }
    /// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
    static func sunsubscribe(_ ctx: CommandContext) throws(CommandError) -> Reply { unsubscribe(ctx, .shard) }

    /// PUBLISH channel message
    static func publish(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if let bus = ctx.server.clusterBus {
            // In a cluster every node hears it over the bus (replicas included).
            bus.propagatePublish(
                channel: ctx.argBytes(1), message: ctx.argBytes(2), shard: false, now: ctx.server.clock())
        } else {
            // Replicas publish it to their own subscribers; the AOF does not keep it.
            ctx.forcePropagation = true
            ctx.propagatesToReplicasOnly = true
        }
        return .integer(Int64(ctx.server.publish(channel: ctx.argBytes(1), message: ctx.argBytes(2))))
    }

    /// SPUBLISH shardchannel message
    static func spublish(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.server.clusterBus?.propagatePublish(
            channel: ctx.argBytes(1), message: ctx.argBytes(2), shard: true, now: ctx.server.clock())
        return .integer(Int64(ctx.server.publish(channel: ctx.argBytes(1), message: ctx.argBytes(2), shard: true)))
    }

    /// PUBSUB CHANNELS [pattern] / SHARDCHANNELS [pattern]
    static func channelList(_ ctx: CommandContext, _ map: OrderedDictionary<[UInt8], [ClientSession]>) -> Reply {
        let pattern = ctx.argc > 2 ? ctx.argBytes(2) : nil
        return .array(map.keys.filter { pattern == nil || globMatch(pattern!, $0) }.map { .bulk($0) })
    }

    static func pubsubChannels(_ ctx: CommandContext) throws(CommandError) -> Reply {
        channelList(ctx, ctx.server.channelSubscribers)
    }

    static func pubsubShardchannels(_ ctx: CommandContext) throws(CommandError) -> Reply {
        channelList(ctx, ctx.server.shardSubscribers)
    }

    /// PUBSUB NUMSUB [channel ...] / SHARDNUMSUB [shardchannel ...]: a flat array, even in RESP3.
    static func numsub(_ ctx: CommandContext, _ map: OrderedDictionary<[UInt8], [ClientSession]>) -> Reply {
        var items: [Reply] = []
        for i in 2..<max(2, ctx.argc) {
            items.append(.bulk(ctx.argBytes(i)))
            items.append(.integer(Int64(map[ctx.argBytes(i)]?.count ?? 0)))
        }
        return .array(items)
    }

    static func pubsubNumsub(_ ctx: CommandContext) throws(CommandError) -> Reply {
        numsub(ctx, ctx.server.channelSubscribers)
    }

    static func pubsubShardnumsub(_ ctx: CommandContext) throws(CommandError) -> Reply {
        numsub(ctx, ctx.server.shardSubscribers)
    }

    /// PUBSUB NUMPAT
    static func pubsubNumpat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(ctx.server.patternSubscribers.count))
    }

    /// PUBSUB HELP
    static func pubsubHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "PUBSUB",
            [
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ])
    }
}

extension CommandTable {
    static let pubSubRegistrations: [(String, Handler)] = [
        ("subscribe", PubSubCommands.subscribeCommand),
        ("psubscribe", PubSubCommands.psubscribe),
        ("ssubscribe", PubSubCommands.ssubscribe),
        ("unsubscribe", PubSubCommands.unsubscribeCommand),
        ("punsubscribe", PubSubCommands.punsubscribe),
        ("sunsubscribe", PubSubCommands.sunsubscribe),
        ("publish", PubSubCommands.publish),
        ("spublish", PubSubCommands.spublish),
        ("pubsub", { _ throws(CommandError) in .null }),
        ("pubsub|channels", PubSubCommands.pubsubChannels),
        ("pubsub|shardchannels", PubSubCommands.pubsubShardchannels),
        ("pubsub|numsub", PubSubCommands.pubsubNumsub),
        ("pubsub|shardnumsub", PubSubCommands.pubsubShardnumsub),
        ("pubsub|numpat", PubSubCommands.pubsubNumpat),
        ("pubsub|help", PubSubCommands.pubsubHelp),
    ]
}
