import DataStore
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// Renders INFO sections with Redis's field names and formats.
public enum InfoRenderer {
    static func humanBytes(_ n: Int) -> String {
        let d = Double(n)
        func f(_ v: Double, _ unit: String) -> String {
            var s = String(Int((v * 100).rounded()))
            while s.count < 3 { s = "0" + s }
            return "\(s.dropLast(2)).\(s.suffix(2))\(unit)"
        }
        if n < 1024 { return "\(n)B" }
        if d < 1024 * 1024 { return f(d / 1024, "K") }
        if d < 1024 * 1024 * 1024 { return f(d / (1024 * 1024), "M") }
        if d < 1024.0 * 1024 * 1024 * 1024 { return f(d / (1024 * 1024 * 1024), "G") }
        return f(d / (1024.0 * 1024 * 1024 * 1024), "T")
    }

    static func fixed(_ v: Double, _ digits: Int = 2) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
        return stringFromCBuffer(buf)
    }

    static func render(_ title: String, _ fields: [(String, String)]) -> String {
        var s = "# \(title)\r\n"
        for (k, v) in fields { s += "\(k):\(v)\r\n" }
        return s
    }

    static func uname() -> String {
        var u = utsname()
        Glibc.uname(&u)
        func field<T>(_ v: T) -> String {
            withUnsafeBytes(of: v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
    }

    public static func section(_ name: String, _ ctx: CommandContext) -> String? {
        let s = ctx.server
        let now = s.clock()
        let extra = s.infoHook?(name) ?? []
        switch name {
        case "server":
            let uptime = (now - s.startTime) / 1000
            return render(
                "Server",
                [
                    ("redis_version", redisCompatibleVersion),
                    ("swiftlet_version", swiftletVersion),
                    ("redis_git_sha1", "00000000"),
                    ("redis_git_dirty", "0"),
                    ("redis_build_id", "0"),
                    ("redis_mode", "standalone"),
                    ("os", uname()),
                    ("arch_bits", "64"),
                    ("monotonic_clock", "POSIX clock_gettime"),
                    ("multiplexing_api", "epoll"),
                    ("atomicvar_api", "c11-builtin"),
                    ("gcc_version", "0.0.0"),
                    ("process_id", String(getpid())),
                    ("process_supervised", "no"),
                    ("run_id", s.runId),
                    ("tcp_port", String(s.tcpPort)),
                    ("server_time_usec", String(wallClockMicros())),
                    ("uptime_in_seconds", String(uptime)),
                    ("uptime_in_days", String(uptime / 86400)),
                    ("hz", ctx.config["hz"]),
                    ("configured_hz", ctx.config["hz"]),
                    ("lru_clock", String((now / 1000) & 0xFFFFFF)),
                    ("executable", s.executablePath),
                    ("config_file", ctx.config.configFile ?? ""),
                    ("io_threads_active", "0"),
                    (
                        "listener0",
                        "name=tcp,bind=\(ctx.config["bind"].replacingOccurrences(" ", ",")),port=\(s.tcpPort)"
                    ),
                ] + extra)
        case "clients":
            return render(
                "Clients",
                [
                    ("connected_clients", String(s.clients.count)),
                    ("cluster_connections", "0"),
                    ("maxclients", ctx.config["maxclients"]),
                    ("client_recent_max_input_buffer", "0"),
                    ("client_recent_max_output_buffer", "0"),
                    ("blocked_clients", String(s.blockedClients + s.pausedClients)),
                    ("tracking_clients", String(s.trackingClients)),
                    (
                        "pubsub_clients",
                        String(s.clients.values.filter { $0.subscriptionCount + $0.shardChannels.count > 0 }.count)
                    ),
                    ("watching_clients", "0"),
                    ("clients_in_timeout_table", "0"),
                    ("total_watched_keys", "0"),
                    ("total_blocking_keys", "0"),
                    ("total_blocking_keys_on_nokey", "0"),
                ] + extra)
        case "memory":
            let used = MemoryInfo.usedMemory()
            let rss = MemoryInfo.residentMemory()
            if used > s.stats.peakMemory { s.stats.peakMemory = used }
            let peak = s.stats.peakMemory
            let maxmemory = Int(ctx.config.int("maxmemory"))
            let system = MemoryInfo.totalSystemMemory()
            let overhead = s.memoryOverhead(used: used)
            let luaMemory = s.scriptEngine?.memory ?? 0
            let clientsMem = overhead.clientsNormal
            return render(
                "Memory",
                [
                    ("used_memory", String(used)),
                    ("used_memory_human", humanBytes(used)),
                    ("used_memory_rss", String(rss)),
                    ("used_memory_rss_human", humanBytes(rss)),
                    ("used_memory_peak", String(peak)),
                    ("used_memory_peak_human", humanBytes(peak)),
                    ("used_memory_peak_perc", fixed(peak > 0 ? Double(used) * 100 / Double(peak) : 100) + "%"),
                    ("used_memory_overhead", String(overhead.total)),
                    ("used_memory_startup", String(overhead.startup)),
                    ("used_memory_dataset", String(overhead.dataset)),
                    (
                        "used_memory_dataset_perc",
                        fixed(
                            used > overhead.startup
                                ? Double(overhead.dataset) * 100 / Double(used - overhead.startup) : 0) + "%"
                    ),
                    ("allocator_allocated", String(used)),
                    ("allocator_active", String(used)),
                    ("allocator_resident", String(rss)),
                    ("total_system_memory", String(system)),
                    ("total_system_memory_human", humanBytes(system)),
                    ("used_memory_lua", String(luaMemory)),
                    ("used_memory_vm_eval", String(luaMemory)),
                    ("used_memory_lua_human", humanBytes(luaMemory)),
                    (
                        "used_memory_scripts_eval",
                        String(s.scriptEngine?.cachedScriptBytes ?? 0)
                    ),
                    ("number_of_cached_scripts", String(s.scriptEngine?.cachedScripts ?? 0)),
                    ("number_of_functions", "0"),
                    ("number_of_libraries", "0"),
                    ("used_memory_vm_functions", "0"),
                    ("used_memory_vm_total", "0"),
                    ("used_memory_vm_total_human", "0B"),
                    ("used_memory_functions", "0"),
                    ("used_memory_scripts", "0"),
                    ("used_memory_scripts_human", "0B"),
                    ("maxmemory", String(maxmemory)),
                    ("maxmemory_human", humanBytes(maxmemory)),
                    ("maxmemory_policy", ctx.config["maxmemory-policy"]),
                    ("allocator_frag_ratio", "1.00"),
                    ("allocator_frag_bytes", "0"),
                    ("allocator_rss_ratio", fixed(used > 0 ? Double(rss) / Double(used) : 1)),
                    ("allocator_rss_bytes", String(rss - used)),
                    ("rss_overhead_ratio", "1.00"),
                    ("rss_overhead_bytes", "0"),
                    ("mem_fragmentation_ratio", fixed(used > 0 ? Double(rss) / Double(used) : 1)),
                    ("mem_fragmentation_bytes", String(rss - used)),
                    ("mem_not_counted_for_evict", String(s.memoryNotCountedForEviction)),
                    ("mem_replication_backlog", "0"),
                    ("mem_total_replication_buffers", "0"),
                    ("mem_clients_slaves", String(overhead.clientsReplicas)),
                    ("mem_clients_normal", String(clientsMem)),
                    ("mem_cluster_links", "0"),
                    ("mem_aof_buffer", String(s.aof?.buffer.capacity ?? 0)),
                    ("mem_allocator", "libc"),
                    ("mem_overhead_db_hashtable_rehashing", "0"),
                    ("active_defrag_running", "0"),
                    ("lazyfree_pending_objects", String(s.lazyfreePendingObjects)),
                    ("lazyfreed_objects", String(s.lazyfreedObjects)),
                ] + extra)
        case "persistence":
            let aofStats = s.aof ?? s.rewritingAOF
            var aofFields: [(String, String)] = []
            if let aof = s.aof {
                aofFields = [
                    ("aof_current_size", String(aof.currentSize)),
                    ("aof_base_size", String(aof.baseSize)),
                    ("aof_pending_rewrite", s.aofRewriteScheduled ? "1" : "0"),
                    ("aof_buffer_length", String(aof.buffer.count)),
                    ("aof_pending_bio_fsync", aof.fsyncInFlight ? "1" : "0"),
                    ("aof_delayed_fsync", String(aof.delayedFsyncs)),
                ]
            }
            var loadingFields: [(String, String)] = []
            if let load = s.loading {
                loadingFields = [
                    ("loading_start_time", String(load.startTime)),
                    ("loading_total_bytes", String(load.totalBytes)),
                    ("loading_rdb_used_mem", "0"),
                    ("loading_loaded_bytes", String(load.loadedBytes)),
                    ("loading_loaded_perc", fixed(load.loadedPercent)),
                    ("loading_eta_seconds", String(load.etaSeconds)),
                ]
            }
            return render(
                "Persistence",
                [
                    ("loading", s.loading != nil ? "1" : "0"),
                    ("async_loading", "0"),
                    ("current_cow_peak", "0"),
                    ("current_cow_size", "0"),
                    ("current_cow_size_age", "0"),
                    ("current_fork_perc", "0.00"),
                    ("current_save_keys_processed", String(s.backgroundSave?.keys ?? 0)),
                    ("current_save_keys_total", String(s.backgroundSave?.totalKeys ?? 0)),
                    ("rdb_changes_since_last_save", String(s.dirty)),
                    ("rdb_bgsave_in_progress", s.backgroundSave.map { $0.purpose != .aofBase } == true ? "1" : "0"),
                    ("rdb_last_save_time", String(s.lastSaveTime)),
                    ("rdb_last_bgsave_status", s.lastSaveOK ? "ok" : "err"),
                    ("rdb_last_bgsave_time_sec", String(s.lastBackgroundSaveSeconds)),
                    ("rdb_current_bgsave_time_sec", String(s.currentBackgroundSaveSeconds)),
                    ("rdb_saves", "0"),
                    ("rdb_last_cow_size", "0"),
                    ("rdb_last_load_keys_expired", String(s.lastLoadKeys.expired)),
                    ("rdb_last_load_keys_loaded", String(s.lastLoadKeys.loaded)),
                    ("aof_enabled", s.aof != nil ? "1" : "0"),
                    ("aof_rewrite_in_progress", s.rewritingAOF != nil ? "1" : "0"),
                    ("aof_rewrite_scheduled", s.aofRewriteScheduled ? "1" : "0"),
                    ("aof_last_rewrite_time_sec", String(aofStats?.lastRewriteSeconds ?? -1)),
                    ("aof_current_rewrite_time_sec", String(s.currentAOFRewriteSeconds)),
                    ("aof_last_bgrewrite_status", aofStats?.lastRewriteOK ?? true ? "ok" : "err"),
                    ("aof_rewrites", String(aofStats?.rewrites ?? 0)),
                    ("aof_rewrites_consecutive_failures", String(aofStats?.consecutiveFailures ?? 0)),
                    ("aof_last_write_status", s.aof?.lastWriteOK ?? true ? "ok" : "err"),
                    ("aof_last_cow_size", "0"),
                    ("module_fork_in_progress", "0"),
                    ("module_fork_last_cow_size", "0"),
                ] + aofFields + loadingFields + extra)
        case "stats":
            let st = s.stats
            return render(
                "Stats",
                [
                    ("total_connections_received", String(st.totalConnections)),
                    ("total_commands_processed", String(st.totalCommands)),
                    ("instantaneous_ops_per_sec", String(st.instantaneousOps)),
                    ("total_net_input_bytes", String(st.netInputBytes)),
                    ("total_net_output_bytes", String(st.netOutputBytes)),
                    ("total_net_repl_input_bytes", "0"),
                    ("total_net_repl_output_bytes", "0"),
                    ("instantaneous_input_kbps", "0.00"),
                    ("instantaneous_output_kbps", "0.00"),
                    ("instantaneous_input_repl_kbps", "0.00"),
                    ("instantaneous_output_repl_kbps", "0.00"),
                    ("rejected_connections", String(st.rejectedConnections)),
                    ("sync_full", String(s.stats.fullSyncs)),
                    ("sync_partial_ok", String(s.stats.partialSyncsAccepted)),
                    ("sync_partial_err", String(s.stats.partialSyncsRefused)),
                    ("expired_keys", String(s.keyspace.expiredKeys)),
                    ("expired_subkeys", String(s.keyspace.expiredFields)),
                    ("expired_stale_perc", "0.00"),
                    ("expired_time_cap_reached_count", "0"),
                    ("expire_cycle_cpu_milliseconds", "0"),
                    ("evicted_keys", String(s.evictedKeys)),
                    ("evicted_clients", String(st.evictedClients)),
                    ("evicted_scripts", "0"),
                    ("total_eviction_exceeded_time", "0"),
                    ("current_eviction_exceeded_time", "0"),
                    ("keyspace_hits", String(s.keyspace.keyspaceHits)),
                    ("keyspace_misses", String(s.keyspace.keyspaceMisses)),
                    ("pubsub_channels", String(s.channelSubscribers.count)),
                    ("pubsub_patterns", String(s.patternSubscribers.count)),
                    ("pubsubshard_channels", String(s.shardSubscribers.count)),
                    ("latest_fork_usec", "0"),
                    ("total_forks", "0"),
                    ("migrate_cached_sockets", "0"),
                    ("slave_expires_tracked_keys", "0"),
                    ("active_defrag_hits", "0"),
                    ("active_defrag_misses", "0"),
                    ("active_defrag_key_hits", "0"),
                    ("active_defrag_key_misses", "0"),
                    ("total_active_defrag_time", "0"),
                    ("current_active_defrag_time", "0"),
                    ("tracking_total_keys", String(s.trackingTableKeys)),
                    ("tracking_total_items", String(s.trackingTableItems)),
                    ("tracking_total_prefixes", String(s.trackingPrefixCount)),
                    ("unexpected_error_replies", String(st.unexpectedErrorReplies)),
                    ("total_error_replies", String(st.totalErrorReplies)),
                    ("dump_payload_sanitizations", "0"),
                    ("total_reads_processed", "0"),
                    ("total_writes_processed", "0"),
                    ("io_threaded_reads_processed", "0"),
                    ("io_threaded_writes_processed", "0"),
                    ("client_query_buffer_limit_disconnections", "0"),
                    ("client_output_buffer_limit_disconnections", "0"),
                    ("reply_buffer_shrinks", String(s.replyBufferShrinks)),
                    ("reply_buffer_expands", String(s.replyBufferExpands)),
                    ("eventloop_cycles", "0"),
                    ("eventloop_duration_sum", "0"),
                    ("eventloop_duration_cmd_sum", "0"),
                    ("instantaneous_eventloop_cycles_per_sec", "0"),
                    ("instantaneous_eventloop_duration_usec", "0"),
                    ("acl_access_denied_auth", "\(s.acl.deniedAuth)"),
                    ("acl_access_denied_cmd", "\(s.acl.deniedCommand)"),
                    ("acl_access_denied_key", "\(s.acl.deniedKey)"),
                    ("acl_access_denied_channel", "\(s.acl.deniedChannel)"),
                    ("acl_access_denied_tls_cert", "\(s.acl.deniedTLSCertificate)"),
                ] + extra)
        case "replication":
            let primary = s.replication
            let replicas = primary?.replicas ?? []
            let now = s.clock()
            let link = s.primaryLink
            var lines: [(String, String)] = [("role", link == nil ? "master" : "slave")]
            if let link {
                let applied = String(link.offset >= 0 ? link.offset : 1)
                lines += [
                    ("master_host", link.host), ("master_port", String(link.port)),
                    ("master_link_status", link.state == .connected ? "up" : "down"),
                    (
                        "master_last_io_seconds_ago",
                        link.state == .connected ? String((now - link.lastIO) / 1000) : "-1"
                    ),
                    ("master_sync_in_progress", link.state == .transfer ? "1" : "0"),
                    ("slave_read_repl_offset", applied), ("slave_repl_offset", applied),
                ]
                if link.state == .transfer {
                    let total = link.transferSize
                    let percent = total > 0 ? Double(link.transferRead) * 100 / Double(total) : 0
                    lines += [
                        ("master_sync_total_bytes", String(total)),
                        ("master_sync_read_bytes", String(link.transferRead)),
                        ("master_sync_left_bytes", String(total - link.transferRead)),
                        ("master_sync_perc", fixed(percent)),
                        ("master_sync_last_io_seconds_ago", String((now - link.lastIO) / 1000)),
                    ]
                }
                if link.state != .connected {
                    lines.append(
                        (
                            "master_link_down_since_seconds",
                            link.downSince > 0 ? String((now - link.downSince) / 1000) : "-1"
                        ))
                }
                lines += [
                    ("slave_priority", ctx.config["replica-priority"]),
                    ("slave_read_only", ctx.config.bool("replica-read-only") ? "1" : "0"),
                    ("replica_announced", ctx.config.bool("replica-announced") ? "1" : "0"),
                ]
            }
            lines.append(("connected_slaves", String(replicas.count)))
            if ctx.config.limits.minReplicasToWrite > 0 {
                lines.append(("min_slaves_good_slaves", String(s.goodReplicaCount)))
            }
            // A replica's history is its primary's once it synced.
            let followedID = link.flatMap { $0.replicationID == "?" ? nil : $0.replicationID }
            for (i, r) in replicas.enumerated() {
                lines.append(
                    (
                        "slave\(i)",
                        "ip=\(r.ip),port=\(r.listeningPort),state=\(r.stateName),offset=\(r.ackOffset),lag=\(max(0, now - r.ackTime) / 1000)"
                    ))
            }
            lines += [
                ("master_failover_state", s.failoverState.name),
                ("master_replid", followedID ?? primary?.replicationID ?? s.runId),
                ("master_replid2", s.replicationID2),
                ("master_repl_offset", String(link.map { max(0, $0.offset) } ?? primary?.offset ?? 0)),
                ("second_repl_offset", String(s.secondReplicationOffset)),
                ("repl_backlog_active", primary == nil ? "0" : "1"),
                ("repl_backlog_size", ctx.config["repl-backlog-size"]),
                ("repl_backlog_first_byte_offset", String(primary?.backlogFirstByte ?? 0)),
                ("repl_backlog_histlen", String(primary?.backlogLength ?? 0)),
            ]
            return render("Replication", lines + extra)
        case "cpu":
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func secs(_ t: timeval) -> String {
                var buf = [CChar](repeating: 0, count: 64)
                _ = withVaList([Int(t.tv_sec), Int(t.tv_usec)]) { vsnprintf(&buf, 64, "%ld.%06ld", $0) }
                return stringFromCBuffer(buf)
            }
            return render(
                "CPU",
                [
                    ("used_cpu_sys", secs(usage.ru_stime)),
                    ("used_cpu_user", secs(usage.ru_utime)),
                    ("used_cpu_sys_children", "0.000000"),
                    ("used_cpu_user_children", "0.000000"),
                    ("used_cpu_sys_main_thread", secs(usage.ru_stime)),
                    ("used_cpu_user_main_thread", secs(usage.ru_utime)),
                ])
        case "modules":
            return render("Modules", [])
        case "commandstats":
            var fields: [(String, String)] = []
            for c in s.commands.allCommands where c.calls > 0 || c.rejectedCalls > 0 || c.failedCalls > 0 {
                let per = c.calls > 0 ? Double(c.microseconds) / Double(c.calls) : 0
                fields.append(
                    (
                        "cmdstat_\(c.fullName)",
                        "calls=\(c.calls),usec=\(c.microseconds),usec_per_call=\(fixed(per)),rejected_calls=\(c.rejectedCalls),failed_calls=\(c.failedCalls)"
                    ))
            }
            return render("Commandstats", fields)
        case "errorstats":
            return render(
                "Errorstats",
                s.stats.errorCounts.sorted { $0.key < $1.key }.map { ("errorstat_\($0.key)", "count=\($0.value)") })
        case "latencystats":
            let fmt = { (v: Double) in fixed(v, 3) }
            return render(
                "Latencystats",
                s.commands.allCommands.filter { $0.latencySinceReset.calls > 0 }.map { c in
                    let histogram = c.latencySinceReset
                    return (
                        "latency_percentiles_usec_\(c.fullName)",
                        ctx.config.limits.latencyPercentiles.map {
                            "p\(Config.percentileText($0))=\(fmt(histogram.percentile($0)))"
                        }.joined(separator: ",")
                    )
                })
        case "cluster":
            return render("Cluster", [("cluster_enabled", ctx.server.cluster == nil ? "0" : "1")])
        case "keyspace":
            var fields: [(String, String)] = []
            for (i, db) in s.keyspace.databases.enumerated() where db.count > 0 {
                fields.append(
                    (
                        "db\(i)",
                        "keys=\(db.count),expires=\(db.volatileCount),avg_ttl=\(averageTTL(db, now: now)),subexpiry=\(db.fieldExpiryKeys.count)"
                    ))
            }
            return render("Keyspace", fields)
        default:
            return nil
        }
    }

    /// The average TTL of a sample of volatile keys, in milliseconds.
    static func averageTTL(_ db: Database, now: Int64) -> Int64 {
        let slots = db.table.volatileSlots
        guard !slots.isEmpty else { return 0 }
        var sum: Int64 = 0
        let n = min(slots.count, 64)
        for i in 0..<n { sum += max(0, db.table[Int(slots[i])].expireAt - now) }
        return sum / Int64(n)
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String {
        String(map { $0 == a ? b : $0 })
    }
}
