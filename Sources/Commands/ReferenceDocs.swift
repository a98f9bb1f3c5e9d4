import CommandFacts
import RESP
import Server
import ServerConfig

/// The generated reference pages: `docs/COMPATIBILITY.md` from the command table and
/// `docs/CONFIG.md` from the directive table. A test regenerates both and fails when the
/// files in the repository differ (`make docs` rewrites them).
public enum ReferenceDocs {
    /// Why a command is not there, by command or by group.
    static let notes: [String: String] = [
        "sentinel": "Sentinel itself is not built in; a Swiftlet server can be monitored by Redis Sentinel",
        "script|debug": "the Lua debugger (ldb) is not implemented",
    ]

    /// What an implemented command does not do (yet).
    static let partial: [String: String] = [
        "cluster":
            "`cluster-enabled yes` joins Redis Cluster over Redis's cluster bus (mixed with redis-server nodes; `redis-cli --cluster` builds and reshards it): gossip, failure detection, replica election and manual failover; keys are kept by slot (COUNTKEYSINSLOT and GETKEYSINSLOT read only their slot); `cluster-enabled no` answers as Redis, \"This instance has cluster support disabled\"",
        "readonly": "as CLUSTER (READONLY is recorded; replicas in a cluster need the bus)",
        "readwrite": "as CLUSTER",
        "asking": "as CLUSTER: the next command may use an importing slot",
        "wait": "counts the replicas that acknowledged the client's last write (REPLCONF GETACK / ACK)",
        "waitaof": "counts the local AOF's fsync and the replicas' (REPLCONF ACK … FACK), as Redis 7.2",
        "failover":
            "coordinated failover: writes pause until the replica has the whole stream, then `PSYNC … FAILOVER` promotes it; `TO`, `FORCE`, `TIMEOUT`, `ABORT`",
        "replicaof": "follows a redis-server or Swiftlet primary (full and partial syncs); `NO ONE` promotes",
        "slaveof": "as REPLICAOF",
        "module|load":
            "always fails, as for a library Redis cannot open: Redis modules (C shared objects) cannot load into Swiftlet",
        "module|loadex": "as MODULE LOAD",
        "module|list": "always empty",
        "migrate": "the connection to the target is opened for each call (Redis keeps it for 10 seconds)",
        "sync":
            "a full sync from the fork-less background snapshot, then the writes made meanwhile and the stream; a snapshot for `REPLCONF rdb-only 1` clients (redis-cli --rdb)",
        "psync":
            "full resync, or `+CONTINUE` from the backlog, also on the history before a promotion (master_replid2) or a restart (the RDB's repl-id/repl-offset); `FAILOVER` as the last argument promotes a replica; a replica passes its primary's stream on unchanged, so a chain shares one history (PSYNC2)",
        "replconf": "`listening-port`, `ip-address`, `capa`, `ack` (with `fack`), `getack`, `rdb-only`",
    ]

    /// `docs/COMPATIBILITY.md`.
    public static func compatibility() -> String {
        let registered = Set(CommandTable.allRegistrations.map { $0.0 })
        struct Row {
            var name: String
            var group: String
            var since: String
            var summary: String
            var supported: Bool
        }
        var rows: [Row] = []
        for command in CommandRow.all {
            for row in [command] + command.subcommands {
                rows.append(
                    Row(
                        name: row.name, group: row.docs.group, since: row.docs.since ?? "",
                        summary: row.docs.summary ?? "", supported: registered.contains(row.name)))
            }
        }
        for later in LaterCommand.all where !rows.contains(where: { $0.name == later.name }) {
            rows.append(
                Row(
                    name: later.name, group: later.group, since: later.since, summary: later.summary,
                    supported: registered.contains(later.name)))
        }
        let groups = Set(rows.map(\.group)).sorted()
        let supported = rows.filter(\.supported).count
        var out = """
            # Command compatibility

            Generated from Swiftlet's command table (`make docs`; a test fails when this file is
            stale). Every command of Redis 7.4 with its subcommands: **\(supported) of \(rows.count)**
            are implemented, with Redis's arity, flags, key positions, replies and error texts
            (COMMAND INFO and COMMAND DOCS answer from the same table). A command that is not
            implemented answers `-ERR unknown command` (or `unknown subcommand`), as an older
            Redis would.


            """
        for group in groups {
            out += "## \(group)\n\n| command | since | status | summary |\n|---|---|---|---|\n"
            for row in rows.filter({ $0.group == group }).sorted(by: { $0.name < $1.name }) {
                let display = row.name.split(separator: "|").map { $0.uppercased() }.joined(separator: " ")
                let base = String(row.name.split(separator: "|").first ?? "")
                let status: String
                if row.supported {
                    // CLUSTER's subcommands share the container's note.
                    let note = partial[row.name] ?? (base == "cluster" ? partial[base] : nil)
                    status = note.map { "yes — \($0)" } ?? "yes"
                } else if let note = notes[row.name] ?? notes[base] ?? notes[group] {
                    status = "no — \(note)"
                } else {
                    status = "no"
                }
                let summary = row.summary.split(separator: "|", omittingEmptySubsequences: false).joined(
                    separator: "\\|")
                out += "| `\(display)` | \(row.since) | \(status) | \(summary) |\n"
            }
            out += "\n"
        }
        return out
    }

    /// `docs/CONFIG.md`.
    public static func configuration() -> String {
        var out = """
            # Configuration directives

            Generated from Swiftlet's directive table (`make docs`; a test fails when this file is
            stale). Every directive of Redis 7 is accepted in `redis.conf`, as a `--name value`
            argument and by `CONFIG GET`/`CONFIG SET`/`CONFIG REWRITE`, with Redis's defaults,
            types, bounds and error texts. "Runtime" says whether `CONFIG SET` may change it.

            | directive | type | default | runtime | aliases |
            |---|---|---|---|---|

            """
        for d in Directive.all.sorted(by: { $0.name < $1.name }) {
            let value = d.defaultValue.isEmpty ? "\"\"" : "`\(d.defaultValue)`"
            let aliases = d.aliases.map { "`\($0)`" }.joined(separator: ", ")
            out += "| `\(d.name)` | \(kindName(d.kind)) | \(value) | \(d.mutable ? "yes" : "no") | \(aliases) |\n"
        }
        return out
    }

    static func kindName(_ kind: DirectiveKind) -> String {
        switch kind {
        case .bool: return "yes/no"
        case .integer(let min, let max): return "integer \(min)…\(max == Int64.max ? "" : String(max))"
        case .memory: return "bytes (units: k, kb, m, mb, g, gb)"
        case .memoryOrPercent: return "bytes (units: k, kb, m, mb, g, gb) or a percentage of maxmemory (`N%`)"
        case .enumeration(let values): return values.joined(separator: " / ")
        case .flags(let values): return "any of " + values.joined(separator: " / ")
        case .string: return "string"
        case .octal: return "octal"
        case .stringList: return "list"
        case .save: return "save points"
        case .clientOutputBufferLimit: return "class limits"
        case .keyspaceEvents: return "event classes"
        case .percentiles: return "percentiles 0…100"
        case .oomScoreAdjValues: return "three scores -2000…2000"
        }
    }
}
