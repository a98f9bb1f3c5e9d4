// Metadata for commands and subcommands that Redis added after the reference server used
// by scripts/gen-command-metadata.py (7.0.15), written by hand from redis.io's 7.4 docs.
// swift-format-ignore-file

extension CommandMetadata {
    static let additions: [CommandMetadata] = [
        CommandMetadata(
            name: "client|setinfo", arity: 4, flags: ["noscript", "loading", "stale"],
            firstKey: 0, lastKey: 0, step: 0,
            info: "$14\r\nclient|setinfo\r\n:4\r\n~3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~1\r\n+request_policy:all_nodes\r\n~0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$54\r\nSets information specific to the client or connection.\r\n$5\r\nsince\r\n$5\r\n7.2.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*0\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "client|no-touch", arity: 3, flags: ["noscript", "loading", "stale"],
            firstKey: 0, lastKey: 0, step: 0,
            info: "$15\r\nclient|no-touch\r\n:3\r\n~3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~0\r\n~0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$81\r\nControls whether commands sent by the client affect the LRU/LFU of accessed keys.\r\n$5\r\nsince\r\n$5\r\n7.2.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*0\r\n",
            subcommands: []
        ),
    ]
}
