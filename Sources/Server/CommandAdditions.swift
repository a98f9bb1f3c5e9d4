// Metadata for commands and subcommands that Redis added after the reference server used
// by scripts/gen-command-metadata.py (7.0.15), written by hand from redis.io's 7.4 docs.
// swift-format-ignore-file

extension CommandMetadata {
    public static let additions: [CommandMetadata] = [
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
        CommandMetadata(
            name: "hexpire", arity: -6, flags: ["write", "denyoom", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$7\r\nhexpire\r\n:-6\r\n~3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$65\r\nSet expiry for hash field using relative time to expire (seconds)\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%3\r\n$4\r\nname\r\n$2\r\ngt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nGT\r\n%3\r\n$4\r\nname\r\n$2\r\nlt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nLT\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hpexpire", arity: -6, flags: ["write", "denyoom", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$8\r\nhpexpire\r\n:-6\r\n~3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$70\r\nSet expiry for hash field using relative time to expire (milliseconds)\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%3\r\n$4\r\nname\r\n$2\r\ngt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nGT\r\n%3\r\n$4\r\nname\r\n$2\r\nlt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nLT\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hexpireat", arity: -6, flags: ["write", "denyoom", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$9\r\nhexpireat\r\n:-6\r\n~3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$68\r\nSet expiry for hash field using an absolute Unix timestamp (seconds)\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%3\r\n$4\r\nname\r\n$2\r\ngt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nGT\r\n%3\r\n$4\r\nname\r\n$2\r\nlt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nLT\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hpexpireat", arity: -6, flags: ["write", "denyoom", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$10\r\nhpexpireat\r\n:-6\r\n~3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$73\r\nSet expiry for hash field using an absolute Unix timestamp (milliseconds)\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%3\r\n$4\r\nname\r\n$2\r\ngt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nGT\r\n%3\r\n$4\r\nname\r\n$2\r\nlt\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nLT\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "httl", arity: -5, flags: ["readonly", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$4\r\nhttl\r\n:-5\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$43\r\nReturns the TTL in seconds of a hash field.\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hpttl", arity: -5, flags: ["readonly", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$5\r\nhpttl\r\n:-5\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$48\r\nReturns the TTL in milliseconds of a hash field.\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hexpiretime", arity: -5, flags: ["readonly", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$11\r\nhexpiretime\r\n:-5\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$76\r\nReturns the expiration time of a hash field as a Unix timestamp, in seconds.\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hpexpiretime", arity: -5, flags: ["readonly", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$12\r\nhpexpiretime\r\n:-5\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$73\r\nReturns the expiration time of a hash field as a Unix timestamp, in msec.\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),
        CommandMetadata(
            name: "hpersist", arity: -5, flags: ["write", "fast"],
            firstKey: 1, lastKey: 1, step: 1,
            info: "$8\r\nhpersist\r\n:-5\r\n~2\r\n+write\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@hash\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n",
            docs: "%5\r\n$7\r\nsummary\r\n$52\r\nRemoves the expiration time for each specified field\r\n$5\r\nsince\r\n$5\r\n7.4.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n$10\r\ncomplexity\r\n$46\r\nO(N) where N is the number of specified fields\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%4\r\n$4\r\nname\r\n$6\r\nfields\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\ntoken\r\n$6\r\nFIELDS\r\n$9\r\narguments\r\n*2\r\n%2\r\n$4\r\nname\r\n$9\r\nnumfields\r\n$4\r\ntype\r\n$7\r\ninteger\r\n%3\r\n$4\r\nname\r\n$5\r\nfield\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n",
            subcommands: []
        ),

    ]
}

extension CommandMetadata {
    /// Redis 7.2 and 7.4 commands the metadata (taken from redis-server 7.0.15 plus
    /// `CommandMetadata.additions`) does not carry: listed so that the page covers 7.4.
    public static let laterCommands: [(name: String, since: String, group: String, summary: String)] = [
        (
            "waitaof", "7.2.0", "generic",
            "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas."
        ),
        ("cluster|myshardid", "7.2.0", "cluster", "Returns the shard ID of a node."),
    ]
}
