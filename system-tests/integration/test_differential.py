"""The same commands sent to Swiftlet and to a real redis-server: replies must be equal
byte for byte (both RESP2 and RESP3). Only replies that differ by design between Redis
7.0 (the reference here) and 7.4 (our target) are left out."""
import pytest

from conftest import encode

COMMANDS = [
    # connection
    ["PING"], ["PING", "hi"], ["PING", "a", "b"], ["ECHO", "x"], ["ECHO"], ["SELECT", "1"], ["SELECT", "0"],
    ["SELECT", "16"], ["SELECT", "abc"], ["SELECT", "-1"], ["AUTH", "x"], ["AUTH", "a", "b", "c"],
    ["NOSUCHCOMMAND", "a", "b"], ["nosuch"], ["NOSUCH", "x" * 200, "y"],
    # a standalone master: cluster commands refused, no replicas to wait for or fail over to
    ["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["CLUSTER", "HELP"], ["CLUSTER", "NOSUCH"], ["CLUSTER"], ["READONLY"],
    ["READWRITE"], ["ASKING"], ["WAIT", "0", "0"], ["WAIT", "1", "10"], ["WAIT", "x", "0"], ["WAIT", "1", "x"],
    ["WAIT", "1", "-1"], ["FAILOVER"], ["FAILOVER", "ABORT"], ["FAILOVER", "TIMEOUT", "0"], ["FAILOVER", "TO", "h", "x"],
    ["FAILOVER", "FORCE", "FORCE"], ["FAILOVER", "TO", "h", "1", "TIMEOUT", "5", "FORCE"], ["REPLICAOF", "NO", "ONE"],
    ["SLAVEOF", "no", "one"], ["REPLICAOF", "h", "x"], ["REPLICAOF", "h", "70000"], ["RESTORE-ASKING", "ra", "0", "x"],
    ["RESTORE-ASKING", "ra"],
    # key counts past the arguments (they must not overflow the key finder)
    ["COMMAND", "GETKEYS", "EVAL", "x", "9223372036854775807"],
    ["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "9223372036854775807", "a"],
    ["COMMAND", "GETKEYS", "SINTERCARD", "9223372036854775807", "a"],
    ["COMMAND", "GETKEYS", "LMPOP", "9223372036854775807", "a", "LEFT"],
    # strings
    ["SET", "s", "hello"], ["GET", "s"], ["SET", "s", "v", "NX"], ["SET", "s", "v", "XX"], ["GET", "s"],
    ["SET", "s2", "v", "XX"], ["SET", "s", "v2", "GET"], ["SET", "nx", "v", "NX", "GET"], ["SET", "s", "v", "NX", "XX"],
    ["SET", "s", "v", "EX", "0"], ["SET", "s", "v", "EX", "-5"], ["SET", "s", "v", "EX", "abc"],
    ["SET", "s", "v", "PX", "100", "EX", "10"], ["SET", "s", "v", "KEEPTTL", "EX", "10"], ["SET", "s", "v", "EX"],
    ["SET", "s", "v", "FOO"], ["SET", "s", "v", "EX", "9223372036854775807"], ["SET", "e", "v", "EX", "100"], ["TTL", "e"],
    ["SET", "e", "v2", "KEEPTTL"], ["TTL", "e"], ["SET", "e", "v3"], ["TTL", "e"], ["SET", "e", "v", "EXAT", "1"],
    ["GET", "e"], ["SET", "e", "v", "PXAT", "99999999999999"], ["PEXPIRETIME", "e"], ["EXPIRETIME", "e"],
    ["SETNX", "s", "x"], ["SETNX", "new", "x"], ["SETEX", "se", "100", "v"], ["TTL", "se"], ["SETEX", "se", "0", "v"],
    ["SETEX", "se", "abc", "v"], ["PSETEX", "pse", "-1", "v"], ["GETEX", "s"], ["GETEX", "s", "EX", "100"],
    ["TTL", "s"], ["GETEX", "s", "PERSIST"], ["TTL", "s"], ["GETEX", "s", "EX", "10", "PX", "10"],
    ["GETEX", "s", "FOO"], ["GETEX", "nokey", "EX", "10"], ["GETDEL", "new"], ["GETDEL", "new"], ["GETSET", "gs", "1"],
    ["GETSET", "gs", "2"], ["MSET", "a", "1", "b", "2"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["MGET", "a", "b", "zz"],
    ["MSETNX", "a", "1", "c", "3"], ["MSETNX", "c", "3", "d", "4"], ["MGET", "c", "d"],
    ["INCR", "i"], ["INCRBY", "i", "10"], ["DECR", "i"], ["DECRBY", "i", "5"], ["INCRBY", "i", "abc"],
    ["INCRBY", "i", "1.5"], ["INCR", "s"], ["SET", "big", "9223372036854775807"], ["INCR", "big"],
    ["DECRBY", "i", "-9223372036854775808"], ["SET", "small", "-9223372036854775808"], ["DECR", "small"],
    ["INCRBY", "i", " 1"], ["SET", "sp", " 1"], ["INCR", "sp"], ["SET", "lz", "01"], ["INCR", "lz"],
    ["INCRBYFLOAT", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "-5"], ["INCRBYFLOAT", "f", "5.0e3"],
    ["INCRBYFLOAT", "f", "abc"], ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "s", "1"], ["SET", "fi", "3"],
    ["INCRBYFLOAT", "fi", "1.5"], ["INCRBYFLOAT", "fi", "-4.5"], ["INCRBYFLOAT", "fe", "1e20"],
    ["APPEND", "ap", "abc"], ["APPEND", "ap", "def"], ["GET", "ap"], ["STRLEN", "ap"], ["STRLEN", "none"],
    ["SET", "num", "12345"], ["APPEND", "num", "6"], ["GET", "num"], ["STRLEN", "num"],
    ["GETRANGE", "ap", "0", "2"], ["GETRANGE", "ap", "-3", "-1"], ["GETRANGE", "ap", "5", "1"],
    ["GETRANGE", "ap", "-100", "100"], ["GETRANGE", "ap", "10", "20"], ["GETRANGE", "none", "0", "1"],
    ["GETRANGE", "ap", "-1", "-5"], ["GETRANGE", "ap", "a", "b"], ["SUBSTR", "ap", "1", "3"],
    ["SETRANGE", "sr", "5", "hi"], ["GET", "sr"], ["SETRANGE", "sr", "0", "HE"], ["GET", "sr"],
    ["SETRANGE", "sr", "-1", "x"], ["SETRANGE", "sr", "1", ""], ["SETRANGE", "nokey2", "1", ""],
    ["SETRANGE", "sr", "536870912", "x"], ["SETRANGE", "sr", "9223372036854775807", "x"],
    ["SETRANGE", "nosr", "9223372036854775807", "x"],
    ["SET", "l1", "ohmytext"], ["SET", "l2", "mynewtext"], ["LCS", "l1", "l2"], ["LCS", "l1", "l2", "LEN"],
    ["LCS", "l1", "l2", "IDX"], ["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    ["LCS", "l1", "l2", "LEN", "IDX"], ["LCS", "l1", "nokey"], ["LCS", "l1", "l2", "FOO"],
    # bitmaps
    ["SETBIT", "bm", "7", "1"], ["SETBIT", "bm", "7", "0"], ["SETBIT", "bm", "100", "1"], ["GETBIT", "bm", "100"],
    ["GETBIT", "bm", "1000"], ["SETBIT", "bm", "-1", "1"], ["SETBIT", "bm", "1", "2"], ["GETBIT", "bm", "x"],
    ["SETBIT", "bm", "4294967296", "1"], ["SET", "bc", "foobar"], ["BITCOUNT", "bc"], ["BITCOUNT", "bc", "0", "0"],
    ["BITCOUNT", "bc", "1", "1"], ["BITCOUNT", "bc", "1", "1", "BYTE"], ["BITCOUNT", "bc", "5", "30", "BIT"],
    ["BITCOUNT", "bc", "-2", "-1"], ["BITCOUNT", "bc", "0"], ["BITCOUNT", "bc", "0", "1", "FOO"], ["BITCOUNT", "none"],
    ["BITCOUNT", "bc", "a", "b"], ["SET", "bp", "\xff\xf0\x00"], ["BITPOS", "bp", "0"], ["BITPOS", "bp", "1", "2"],
    ["SET", "bp2", "\x00\xff\xf0"], ["BITPOS", "bp2", "1", "0"], ["BITPOS", "bp2", "1", "2", "-1", "BYTE"],
    ["BITPOS", "bp2", "1", "7", "15", "BIT"], ["BITPOS", "bp2", "2"], ["BITPOS", "none", "0"], ["BITPOS", "none", "1"],
    ["SET", "ones", "\xff\xff"], ["BITPOS", "ones", "0"], ["BITPOS", "ones", "0", "0", "-1"],
    ["SET", "k1", "foobar"], ["SET", "k2", "abcdef"], ["BITOP", "AND", "dest", "k1", "k2"], ["GET", "dest"],
    ["BITOP", "OR", "dest", "k1", "k2"], ["GET", "dest"], ["BITOP", "XOR", "dest", "k1", "k2", "nokey"], ["GET", "dest"],
    ["BITOP", "NOT", "dest", "k1"], ["GET", "dest"], ["BITOP", "NOT", "dest", "k1", "k2"], ["BITOP", "FOO", "d", "k1"],
    ["BITOP", "AND", "dest", "none1", "none2"], ["EXISTS", "dest"],
    ["BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "u4", "0", "INCRBY", "i5", "100", "1"],
    ["BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u2", "100", "5", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "5"],
    ["BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "i8", "#1", "200", "GET", "i8", "#1"],
    ["BITFIELD", "bf", "SET", "u8", "0", "-1", "OVERFLOW", "SAT", "SET", "u8", "8", "-1", "SET", "i4", "16", "100"],
    ["BITFIELD", "bf", "GET", "u64", "0"], ["BITFIELD", "bf", "GET", "i65", "0"], ["BITFIELD", "bf", "GET", "i8", "-1"],
    ["BITFIELD", "bf", "OVERFLOW", "FOO"], ["BITFIELD", "bf", "FOO"], ["BITFIELD", "bf", "GET", "i8"],
    ["BITFIELD", "bf", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"],
    ["BITFIELD_RO", "bf", "GET", "i8", "0"], ["BITFIELD_RO", "bf", "SET", "i8", "0", "1"], ["BITFIELD", "nokey"],
    # keys
    ["DEL", "a", "b", "zz"], ["EXISTS", "c", "c", "zz"], ["TYPE", "c"], ["TYPE", "zz"], ["UNLINK", "c"],
    ["SET", "t", "v"], ["EXPIRE", "t", "100"], ["TTL", "t"], ["EXPIRE", "t", "50", "GT"], ["EXPIRE", "t", "200", "GT"],
    ["TTL", "t"], ["EXPIRE", "t", "300", "LT"], ["EXPIRE", "t", "100", "LT"], ["TTL", "t"], ["EXPIRE", "t", "10", "NX"],
    ["EXPIRE", "t", "10", "XX"], ["TTL", "t"], ["EXPIRE", "t", "10", "NX", "XX"], ["EXPIRE", "t", "10", "GT", "LT"],
    ["EXPIRE", "t", "10", "FOO"], ["EXPIRE", "t", "abc"], ["EXPIRE", "t", "9223372036854775807"],
    ["PEXPIRE", "t", "9223372036854775807"], ["EXPIREAT", "t", "99999999999"], ["EXPIRETIME", "t"],
    ["PEXPIREAT", "t", "99999999999999"], ["PEXPIRETIME", "t"], ["PERSIST", "t"], ["PERSIST", "t"], ["TTL", "t"],
    ["PTTL", "t"], ["TTL", "none"], ["PTTL", "none"], ["EXPIRETIME", "none"], ["EXPIRE", "none", "10"],
    ["SET", "nottl", "v"], ["EXPIRE", "nottl", "10", "GT"], ["EXPIRE", "nottl", "10", "LT"], ["TTL", "nottl"],
    ["EXPIRE", "nottl", "-1"], ["EXISTS", "nottl"], ["SET", "r1", "v"], ["RENAME", "r1", "r2"], ["GET", "r2"],
    ["RENAME", "r1", "r2"], ["RENAME", "r2", "r2"], ["SET", "r3", "x"], ["RENAMENX", "r2", "r3"],
    ["RENAMENX", "r2", "r4"], ["RENAMENX", "r4", "r4"],
    ["SET", "rt", "v", "EX", "100"], ["RENAME", "rt", "rt2"], ["TTL", "rt2"], ["MOVE", "rt2", "2"], ["SELECT", "2"],
    ["TTL", "rt2"], ["SELECT", "0"], ["SET", "cp", "v"], ["COPY", "cp", "cp2"], ["COPY", "cp", "cp2"],
    ["COPY", "cp", "cp2", "REPLACE"], ["COPY", "cp", "cp", "DB", "0"], ["COPY", "cp", "cp", "DB", "1"],
    ["COPY", "cp", "x", "DB", "99"], ["COPY", "cp", "x", "DB", "abc"], ["COPY", "cp", "x", "FOO"], ["COPY", "none", "x"],
    ["MOVE", "cp", "1"], ["MOVE", "cp", "1"], ["MOVE", "cp2", "0"], ["MOVE", "cp2", "99"], ["MOVE", "cp2", "abc"],
    ["SELECT", "1"], ["GET", "cp"], ["GET", "cp2"], ["SELECT", "0"], ["SWAPDB", "0", "1"], ["GET", "cp"],
    ["SWAPDB", "0", "1"], ["SWAPDB", "0", "99"], ["SWAPDB", "a", "1"], ["SWAPDB", "0", "b"],
    ["TOUCH", "cp2", "none"], ["DBSIZE"], ["FLUSHDB", "FOO"], ["FLUSHALL", "SYNC", "x"],
    ["OBJECT", "ENCODING", "num"], ["OBJECT", "ENCODING", "i"], ["OBJECT", "ENCODING", "ap"],
    ["SET", "raw", "x" * 50], ["OBJECT", "ENCODING", "raw"], ["OBJECT", "ENCODING", "none"],
    ["OBJECT", "REFCOUNT", "i"], ["OBJECT", "REFCOUNT", "ap"], ["OBJECT", "FREQ", "ap"], ["OBJECT", "FOO", "ap"],
    ["OBJECT"], ["OBJECT", "HELP"], ["SCAN", "abc"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "FOO"],
    ["KEYS", "nomatch*"], ["RANDOMKEY", "extra"],
    # lists
    ["RPUSH", "l", "a", "b", "c", "a", "d", "a"], ["LPUSH", "l", "z"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
    ["LRANGE", "l", "-3", "100"], ["LRANGE", "l", "5", "2"], ["LRANGE", "l", "a", "b"], ["LRANGE", "nol", "0", "-1"],
    ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "100"], ["LSET", "l", "1", "A"], ["LSET", "l", "100", "x"],
    ["LSET", "nol", "0", "x"], ["LINSERT", "l", "BEFORE", "c", "bc"], ["LINSERT", "l", "AFTER", "c", "cd"],
    ["LINSERT", "l", "AFTER", "nope", "x"], ["LINSERT", "l", "MIDDLE", "c", "x"], ["LINSERT", "nol", "AFTER", "c", "x"],
    ["LPOS", "l", "a"], ["LPOS", "l", "a", "RANK", "2"], ["LPOS", "l", "a", "RANK", "-1"], ["LPOS", "l", "a", "COUNT", "0"],
    ["LPOS", "l", "a", "COUNT", "2", "RANK", "-1"], ["LPOS", "l", "a", "MAXLEN", "3"], ["LPOS", "l", "a", "RANK", "0"],
    ["LPOS", "l", "a", "COUNT", "-1"], ["LPOS", "l", "a", "MAXLEN", "-1"], ["LPOS", "l", "nope"], ["LPOS", "l", "nope", "COUNT", "1"],
    ["LPOS", "nol", "a", "COUNT", "1"], ["LREM", "l", "1", "a"], ["LREM", "l", "-1", "a"], ["LRANGE", "l", "0", "-1"],
    ["LREM", "l", "0", "nope"], ["RPUSH", "l", "a", "a"], ["LREM", "l", "0", "a"], ["LRANGE", "l", "0", "-1"],
    ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["LPOP", "l", "-1"], ["LPOP", "nol"],
    ["LPOP", "nol", "2"], ["LPOP", "l", "1", "2"], ["RPUSH", "t", "1", "2", "3", "4", "5"], ["LTRIM", "t", "1", "-2"],
    ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "5", "10"], ["EXISTS", "t"], ["LPUSHX", "t", "x"], ["RPUSHX", "t", "x"],
    ["RPUSH", "src", "1", "2", "3"], ["LMOVE", "src", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "dst", "RIGHT", "LEFT"],
    ["LMOVE", "src", "src", "LEFT", "RIGHT"], ["LRANGE", "src", "0", "-1"], ["LMOVE", "src", "dst", "UP", "LEFT"],
    ["RPOPLPUSH", "src", "dst"], ["RPOPLPUSH", "nol", "dst"], ["LRANGE", "dst", "0", "-1"], ["EXISTS", "src"],
    ["LMPOP", "2", "nol", "dst", "LEFT", "COUNT", "2"], ["LMPOP", "1", "dst", "RIGHT"], ["LMPOP", "1", "nol", "LEFT"],
    ["LMPOP", "0", "dst", "LEFT"], ["LMPOP", "1", "dst", "MIDDLE"], ["LMPOP", "1", "dst", "LEFT", "COUNT", "0"],
    ["LMPOP", "2", "dst", "LEFT"], ["LMPOP", "1", "dst", "LEFT", "COUNT", "1", "COUNT", "1"],
    ["SET", "str", "x"], ["LPUSH", "str", "a"], ["LRANGE", "str", "0", "1"], ["LPOP", "str"], ["RPUSH", "lst", "x"],
    ["GET", "lst"], ["INCR", "lst"], ["APPEND", "lst", "x"], ["TYPE", "lst"],
    ["SET", "lst", "now-a-string"], ["TYPE", "lst"], ["RPUSH", "cpl", "a", "b"], ["COPY", "cpl", "cpl2"], ["RPUSH", "cpl2", "c"],
    ["LRANGE", "cpl", "0", "-1"], ["LRANGE", "cpl2", "0", "-1"], ["RENAME", "cpl2", "cpl3"], ["LLEN", "cpl3"],
    # hashes
    ["HSET", "h", "f", "v", "g", "w"], ["HSET", "h", "f", "v2"], ["HSET", "h", "x"], ["HGET", "h", "f"], ["HGET", "h", "no"],
    ["HGET", "noh", "f"], ["HMGET", "h", "f", "no", "g"], ["HMGET", "noh", "a"], ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"],
    ["HLEN", "h"], ["HLEN", "noh"], ["HEXISTS", "h", "f"], ["HEXISTS", "h", "no"], ["HSTRLEN", "h", "f"], ["HSTRLEN", "h", "no"],
    ["HSETNX", "h", "f", "z"], ["HSETNX", "h", "n", "z"], ["HMSET", "h", "a", "1", "b", "2"], ["HMSET", "h", "a"],
    ["HINCRBY", "h", "a", "10"], ["HINCRBY", "h", "new", "-5"], ["HINCRBY", "h", "f", "1"], ["HINCRBY", "h", "a", "x"],
    ["HSET", "h", "big", "9223372036854775807"], ["HINCRBY", "h", "big", "1"], ["HINCRBYFLOAT", "h", "fl", "1.5"],
    ["HINCRBYFLOAT", "h", "fl", "0.1"], ["HINCRBYFLOAT", "h", "f", "1"], ["HINCRBYFLOAT", "h", "fl", "abc"],
    ["HINCRBYFLOAT", "h", "fl", "inf"], ["HGETALL", "h"], ["HDEL", "h", "f", "g", "no"], ["HDEL", "noh", "f"],
    ["HSCAN", "h", "abc"], ["HSCAN", "h", "0", "MATCH", "n*"], ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "noh", "0"],
    ["HRANDFIELD", "noh"], ["HRANDFIELD", "noh", "3"], ["HRANDFIELD", "h", "abc"], ["HRANDFIELD", "h", "2", "WITHVALUES", "x"],
    ["HSET", "one", "only", "1"], ["HRANDFIELD", "one"], ["HRANDFIELD", "one", "2"], ["HRANDFIELD", "one", "-2"],
    ["HRANDFIELD", "one", "1", "WITHVALUES"], ["HRANDFIELD", "one", "-3", "WITHVALUES"], ["HRANDFIELD", "one", "0"],
    ["HDEL", "one", "only"], ["EXISTS", "one"], ["TYPE", "h"], ["OBJECT", "ENCODING", "h"], ["GET", "h"], ["LPUSH", "h", "x"],
    ["HSET", "l", "a", "b"], ["HGET", "str", "a"], ["COPY", "h", "h2"], ["HGETALL", "h2"],
    # sets (only intset-encoded results where the order is defined in both 7.0 and 7.4)
    ["SADD", "set1", "3", "1", "2"], ["SADD", "set1", "2", "5"], ["SMEMBERS", "set1"], ["SCARD", "set1"], ["SCARD", "nos"],
    ["SISMEMBER", "set1", "1"], ["SISMEMBER", "set1", "9"], ["SISMEMBER", "nos", "1"], ["SMISMEMBER", "set1", "1", "x", "5"],
    ["SREM", "set1", "1", "9"], ["SMEMBERS", "set1"], ["OBJECT", "ENCODING", "set1"], ["SADD", "set2", "2", "3", "7"],
    ["SINTER", "set1", "set2"], ["SINTER", "set1", "nos"], ["SINTERSTORE", "sdst", "set1", "set2"], ["SMEMBERS", "sdst"],
    ["SDIFF", "set1", "set2"], ["SDIFFSTORE", "sdst", "set1", "set2"], ["SMEMBERS", "sdst"], ["SUNIONSTORE", "sdst", "set1", "set2"],
    ["SMEMBERS", "sdst"], ["SINTERSTORE", "sdst", "set1", "nos"], ["EXISTS", "sdst"], ["SINTERCARD", "2", "set1", "set2"],
    ["SINTERCARD", "2", "set1", "set2", "LIMIT", "1"], ["SINTERCARD", "0", "set1"], ["SINTERCARD", "3", "set1", "set2"],
    ["SINTERCARD", "1", "set1", "LIMIT", "-1"], ["SINTERCARD", "1", "set1", "FOO"], ["SINTERCARD", "1", "nos"],
    ["SMOVE", "set1", "set2", "5"], ["SMOVE", "set1", "set2", "99"], ["SMOVE", "nos", "set2", "1"], ["SMEMBERS", "set2"],
    ["SPOP", "set1", "-1"], ["SPOP", "nos"], ["SPOP", "nos", "2"], ["SRANDMEMBER", "nos"], ["SRANDMEMBER", "nos", "2"],
    ["SRANDMEMBER", "set1", "-9223372036854775808"], ["SADD", "sone", "x"], ["SRANDMEMBER", "sone"], ["SRANDMEMBER", "sone", "2"],
    ["SRANDMEMBER", "sone", "-2"], ["SPOP", "sone", "5"], ["EXISTS", "sone"], ["SSCAN", "set2", "abc"], ["SSCAN", "set2", "0"],
    ["SSCAN", "set2", "0", "MATCH", "3*"], ["SSCAN", "nos", "0"], ["TYPE", "set2"], ["GET", "set2"], ["SADD", "str", "x"],
    ["SINTER", "set2", "str"], ["SUNION", "str"], ["SDIFF", "nos", "set2"],
    # sorted sets (scores that 7.0's %.17g and 7.4's shortest form write alike)
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZADD", "z", "1.5", "ab"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"], ["ZADD", "z", "NX", "GT", "1", "a"],
    ["ZADD", "z", "INCR", "1", "a", "2", "b"], ["ZADD", "z", "abc", "a"], ["ZADD", "z", "1", "a", "2"],
    ["ZADD", "z", "CH", "5", "a", "2", "b", "9", "new"], ["ZADD", "z", "XX", "CH", "0", "a", "7", "nope"],
    ["ZADD", "z", "GT", "CH", "1", "b", "10", "c"], ["ZADD", "z", "LT", "CH", "1", "c"], ["ZADD", "z", "INCR", "2.5", "a"],
    ["ZADD", "z", "NX", "INCR", "1", "a"], ["ZADD", "z", "XX", "INCR", "1", "zz"], ["ZADD", "noz", "XX", "1", "a"],
    ["EXISTS", "noz"], ["ZINCRBY", "z", "-1", "a"], ["ZINCRBY", "z", "abc", "a"], ["ZADD", "z", "+inf", "i"],
    ["ZINCRBY", "z", "-inf", "i"], ["ZSCORE", "z", "a"], ["ZSCORE", "z", "i"], ["ZSCORE", "z", "no"], ["ZSCORE", "noz", "a"],
    ["ZMSCORE", "z", "a", "no", "b"], ["ZCARD", "z"], ["ZCARD", "noz"], ["ZCOUNT", "z", "-inf", "+inf"],
    ["ZCOUNT", "z", "(1", "5"], ["ZCOUNT", "z", "abc", "1"], ["ZCOUNT", "noz", "0", "1"], ["ZRANK", "z", "c"],
    ["ZREVRANK", "z", "c"], ["ZRANK", "z", "no"], ["ZRANGE", "z", "0", "-1"], ["ZRANGE", "z", "-2", "-1", "WITHSCORES"],
    ["ZRANGE", "z", "(1", "+inf", "BYSCORE"], ["ZRANGE", "z", "+inf", "(1", "BYSCORE", "REV", "WITHSCORES"],
    ["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"], ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "9223372036854775807"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "9223372036854775807", "9223372036854775807"], ["ZRANGE", "z", "0", "-1", "REV"],
    ["ZRANGE", "z", "0", "-1", "FOO"], ["ZRANGE", "noz", "0", "-1"], ["ZRANGE", "noz", "a", "b"],
    ["ZREVRANGE", "z", "0", "1", "WITHSCORES"], ["ZRANGEBYSCORE", "z", "1", "5", "WITHSCORES", "LIMIT", "0", "2"],
    ["ZRANGEBYSCORE", "z", "abc", "1"], ["ZREVRANGEBYSCORE", "z", "5", "1"], ["ZREVRANGEBYSCORE", "z", "(5", "(1"],
    ["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"], ["ZRANGEBYLEX", "lex", "[b", "(d"], ["ZRANGEBYLEX", "lex", "-", "+"],
    ["ZREVRANGEBYLEX", "lex", "+", "[b", "LIMIT", "0", "1"], ["ZRANGEBYLEX", "lex", "b", "d"], ["ZLEXCOUNT", "lex", "(a", "+"],
    ["ZRANGE", "lex", "[a", "[c", "BYLEX"], ["ZRANGE", "lex", "[a", "[c", "BYLEX", "WITHSCORES"],
    ["ZREMRANGEBYLEX", "lex", "[a", "[b"], ["ZRANGE", "lex", "0", "-1"], ["ZREMRANGEBYRANK", "z", "0", "0"],
    ["ZREMRANGEBYSCORE", "z", "(5", "+inf"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZREMRANGEBYSCORE", "noz", "0", "1"],
    ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "2"], ["ZPOPMIN", "z", "-1"], ["ZPOPMIN", "noz"], ["ZPOPMIN", "noz", "2"],
    ["ZREM", "z", "a", "b", "c", "no"], ["ZRANGE", "z", "0", "-1"], ["EXISTS", "z"], ["ZREM", "lex", "c", "d"],
    ["EXISTS", "lex"], ["ZADD", "str", "1", "a"], ["ZSCORE", "str", "a"], ["ZADD", "zt", "1", "m"], ["GET", "zt"],
    ["TYPE", "zt"], ["OBJECT", "ENCODING", "zt"],
    # sorted-set algebra, random picks, scans and multi-key pops
    ["ZADD", "za", "1", "a", "2", "b", "3", "c"], ["ZADD", "zb", "10", "b", "20", "c", "30", "d"], ["SADD", "sa", "a", "d", "x"],
    ["ZUNION", "2", "za", "zb"], ["ZUNION", "2", "za", "zb", "WITHSCORES"], ["ZUNION", "3", "za", "zb", "sa", "WITHSCORES"],
    ["ZUNION", "2", "za", "zb", "WEIGHTS", "2", "0.5", "WITHSCORES"], ["ZUNION", "2", "za", "zb", "AGGREGATE", "MAX", "WITHSCORES"],
    ["ZUNION", "2", "za", "zb", "AGGREGATE", "MIN", "WITHSCORES"], ["ZUNION", "2", "za", "zb", "AGGREGATE", "FOO"],
    ["ZUNION", "2", "za", "zb", "WEIGHTS", "1"], ["ZUNION", "2", "za", "zb", "WEIGHTS", "1", "abc"], ["ZUNION", "0", "za"],
    ["ZUNION", "-1", "za"], ["ZUNION", "3", "za", "zb"], ["ZUNION", "abc", "za"], ["ZUNION", "1", "nokey"],
    ["ZUNION", "2", "za", "bstr2"], ["SET", "zstr", "x"], ["ZUNION", "2", "za", "zstr"], ["ZINTER", "2", "za", "zb", "WITHSCORES"],
    ["ZINTER", "2", "za", "sa", "WITHSCORES"], ["ZINTER", "2", "za", "nokey"], ["ZINTER", "2", "za", "za", "WITHSCORES"],
    ["ZINTER", "2", "za", "zb", "WEIGHTS", "1", "-1", "AGGREGATE", "MIN", "WITHSCORES"], ["ZINTER", "1", "za", "FOO"],
    ["ZDIFF", "2", "za", "zb", "WITHSCORES"], ["ZDIFF", "2", "za", "sa"], ["ZDIFF", "2", "za", "za"], ["ZDIFF", "1", "nokey"],
    ["ZDIFF", "2", "za", "zb", "WEIGHTS", "1", "2"], ["ZDIFF", "2", "za", "zb", "AGGREGATE", "SUM"],
    ["ZUNIONSTORE", "zd", "2", "za", "zb"], ["ZRANGE", "zd", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "zd"],
    ["ZUNIONSTORE", "zd", "2", "za", "zb", "WITHSCORES"], ["ZINTERSTORE", "zd", "2", "za", "zb", "WEIGHTS", "2", "3"],
    ["ZRANGE", "zd", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "zd", "2", "za", "nokey"], ["EXISTS", "zd"],
    ["ZDIFFSTORE", "zd", "2", "zb", "za"], ["ZRANGE", "zd", "0", "-1", "WITHSCORES"], ["ZDIFFSTORE", "zd", "0", "za"],
    ["ZUNIONSTORE", "zd", "1", "sa"], ["TYPE", "zd"], ["ZRANGE", "zd", "0", "-1", "WITHSCORES"],
    ["ZADD", "zinf", "+inf", "a", "-inf", "b"], ["ZADD", "zninf", "-inf", "a", "+inf", "b"],
    ["ZUNION", "2", "zinf", "zninf", "WITHSCORES"], ["ZINTER", "2", "zinf", "zninf", "WITHSCORES"],
    ["ZUNION", "1", "zinf", "WEIGHTS", "0", "WITHSCORES"], ["ZINTER", "2", "zinf", "za", "WEIGHTS", "0", "1", "WITHSCORES"],
    ["ZINTERCARD", "2", "za", "zb"], ["ZINTERCARD", "2", "za", "zb", "LIMIT", "1"], ["ZINTERCARD", "2", "za", "zb", "LIMIT", "0"],
    ["ZINTERCARD", "2", "za", "zb", "LIMIT", "-1"], ["ZINTERCARD", "2", "za", "zb", "LIMIT", "abc"], ["ZINTERCARD", "0", "za"],
    ["ZINTERCARD", "3", "za", "zb"], ["ZINTERCARD", "1", "za", "WITHSCORES"], ["ZINTERCARD", "1", "nokey"],
    ["ZINTERCARD", "2", "za", "zb", "WEIGHTS", "1", "1"],
    ["ZRANGESTORE", "zr", "zb", "0", "1"], ["ZRANGE", "zr", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "zr"],
    ["ZRANGESTORE", "zr", "zb", "(10", "+inf", "BYSCORE", "LIMIT", "0", "1"], ["ZRANGE", "zr", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "zr", "zb", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "5"], ["ZRANGE", "zr", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "zr", "zb", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "zr", "zb", "0", "-1", "LIMIT", "0", "1"],
    ["ZRANGESTORE", "zr", "nokey", "0", "-1"], ["EXISTS", "zr"], ["ZRANGESTORE", "zr", "zb", "5", "6"],
    ["ZRANGESTORE", "zr", "zb", "a", "b"], ["ZRANGESTORE", "zr", "zstr", "0", "1"],
    ["ZRANGESTORE", "zr", "lexz", "-", "+", "BYLEX"],
    ["ZRANDMEMBER", "nokey"], ["ZRANDMEMBER", "nokey", "5"], ["ZRANDMEMBER", "za", "0"], ["ZRANDMEMBER", "za", "10"],
    ["ZRANDMEMBER", "za", "3", "WITHSCORES"], ["ZRANDMEMBER", "za", "abc"], ["ZRANDMEMBER", "za", "1", "FOO"],
    ["ZRANDMEMBER", "za", "abc", "FOO"], ["ZRANDMEMBER", "za", "-9223372036854775808"],
    ["ZRANDMEMBER", "za", "-9223372036854775807", "WITHSCORES"], ["ZRANDMEMBER", "za", "1", "WITHSCORES", "x"],
    ["ZRANDMEMBER", "zstr"], ["HRANDFIELD", "zstr", "abc", "FOO"],
    ["ZSCAN", "za", "0"], ["ZSCAN", "za", "0", "MATCH", "[ab]"], ["ZSCAN", "za", "0", "COUNT", "0"], ["ZSCAN", "za", "x"],
    ["ZSCAN", "nokey", "0"], ["ZSCAN", "zinf", "0"], ["ZSCAN", "za", "0", "NOVALUES"], ["ZSCAN", "zstr", "0"],
    ["ZMPOP", "2", "nokey", "za", "MIN"], ["ZMPOP", "1", "za", "MAX", "COUNT", "10"], ["EXISTS", "za"],
    ["ZMPOP", "1", "nokey", "MIN"], ["ZMPOP", "0", "za", "MIN"], ["ZMPOP", "1", "zb", "FOO"], ["ZMPOP", "2", "zb", "MIN"],
    ["ZMPOP", "1", "zb", "MIN", "COUNT", "0"], ["ZMPOP", "1", "zb", "MIN", "COUNT", "1", "COUNT", "1"],
    ["ZMPOP", "1", "zb", "MIN", "FOO"], ["ZMPOP", "1", "zstr", "MIN"], ["ZMPOP", "abc", "zb", "MIN"],
    ["BZMPOP", "0", "2", "nokey", "zb", "MAX", "COUNT", "2"], ["BZMPOP", "abc", "1", "zb", "MIN"],
    ["BZMPOP", "0", "0", "zb", "MIN"], ["BZMPOP", "0", "1", "zb", "MIN", "COUNT", "-1"],
    # SORT
    ["RPUSH", "sl", "3", "1", "10", "2", "-5", "2.5"], ["SORT", "sl"], ["SORT", "sl", "DESC"], ["SORT", "sl", "ALPHA"],
    ["SORT", "sl", "LIMIT", "1", "2"], ["SORT", "sl", "LIMIT", "-1", "2"], ["SORT", "sl", "LIMIT", "2", "-1"],
    ["SORT", "sl", "LIMIT", "10", "5"], ["SORT", "sl", "LIMIT", "0", "0"], ["SORT", "sl", "LIMIT", "a", "1"],
    ["SORT", "sl", "LIMIT", "1"], ["SORT", "sl", "FOO"], ["SORT", "sl", "BY", "nosort"], ["SORT", "sl", "BY", "nosort", "DESC"],
    ["SORT", "sl", "BY", "nosort", "LIMIT", "1", "3"], ["SORT", "sl", "BY", "nosort", "DESC", "LIMIT", "1", "3"],
    ["MSET", "w_3", "30", "w_1", "5", "w_10", "7", "w_2", "x", "o_3", "three", "o_1", "one"],
    ["HSET", "h_3", "f", "c"], ["HSET", "h_1", "f", "a"], ["HSET", "h_10", "f", "b"],
    ["SORT", "sl", "BY", "w_*"], ["SORT", "sl", "BY", "w_*", "ALPHA"], ["SORT", "sl", "BY", "h_*->f", "ALPHA", "GET", "#", "GET", "o_*"],
    ["SORT", "sl", "GET", "o_*", "GET", "#", "GET", "h_*->f", "GET", "nostar"], ["SORT", "sl", "BY", "h_*->f", "ALPHA", "DESC"],
    ["SORT", "sl", "BY", "o_*", "ALPHA", "LIMIT", "0", "3"], ["SORT", "sl", "STORE", "sdst"], ["LRANGE", "sdst", "0", "-1"],
    ["SORT", "sl", "GET", "o_*", "STORE", "sdst"], ["LRANGE", "sdst", "0", "-1"], ["SORT", "nokey", "STORE", "sdst"],
    ["EXISTS", "sdst"], ["SORT", "nokey"], ["SORT_RO", "sl", "STORE", "x"], ["SORT_RO", "sl", "DESC", "LIMIT", "0", "2"],
    ["RPUSH", "sbad", "1", "abc"], ["SORT", "sbad"], ["SORT", "sbad", "ALPHA"], ["SORT", "sbad", "STORE", "sdst2"], ["EXISTS", "sdst2"],
    # (No out-of-range score such as 1e400: Redis never clears errno, so its ERANGE would
    # leak into every later SORT of the reference server.)
    ["RPUSH", "sodd2", " 5", "0x10", "inf", "-inf", ""],
    ["SORT", "sodd2"], ["SORT", "sodd2", "DESC"], ["SADD", "sset", "5", "3", "9", "1"], ["SORT", "sset"], ["SORT", "sset", "DESC", "LIMIT", "1", "2"],
    ["SORT", "sset", "BY", "nosort", "STORE", "sdst3"], ["LRANGE", "sdst3", "0", "-1"], ["SORT", "sset", "BY", "nosort"],
    ["ZADD", "szs", "1", "c", "2", "b", "3", "a"], ["SORT", "szs", "ALPHA"], ["SORT", "szs", "BY", "nosort"],
    ["SORT", "szs", "BY", "nosort", "DESC", "LIMIT", "1", "5"], ["SORT", "szs"], ["SET", "sstr", "x"], ["SORT", "sstr"],
    ["SORT", "sl", "BY", "w_*", "GET", "#", "LIMIT", "0", "2"], ["SORT", "sl", "STORE"],
    # transactions
    ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["SET", "tx", "1"], ["INCR", "tx"], ["GET", "tx"], ["EXEC"],
    ["MULTI"], ["SET", "tx", "a"], ["INCR", "tx"], ["LPUSH", "tx", "x"], ["GET", "tx"], ["EXEC"],
    ["MULTI"], ["SET", "tx"], ["INCR", "tx"], ["EXEC"], ["GET", "tx"], ["MULTI"], ["NOSUCH"], ["EXEC"],
    ["MULTI"], ["WATCH", "tx"], ["SHUTDOWN", "ABORT"], ["PING"], ["EXEC"], ["MULTI"], ["DISCARD"], ["MULTI"], ["EXEC"],
    ["WATCH", "tx"], ["SET", "tx", "2"], ["MULTI"], ["GET", "tx"], ["EXEC"], ["WATCH", "tx"], ["MULTI"],
    ["GET", "tx"], ["EXEC"], ["WATCH", "nokey"], ["UNWATCH"], ["SET", "nokey", "1"], ["MULTI"], ["GET", "nokey"], ["EXEC"],
    ["MULTI"], ["BLPOP", "emptyq", "0"], ["BZPOPMIN", "emptyq", "0"], ["EXEC"], ["WATCH"],
    ["WATCH", "tx"], ["FLUSHDB"], ["MULTI"], ["PING"], ["EXEC"], ["WATCH", "tx"], ["FLUSHDB"], ["MULTI"], ["PING"], ["EXEC"],
    ["MULTI"], ["SELECT", "1"], ["SET", "indb1", "x"], ["EXEC"], ["GET", "indb1"], ["SELECT", "0"],
    # introspection
    ["LATENCY", "LATEST"], ["LATENCY", "HISTORY", "command"], ["LATENCY", "RESET"], ["LATENCY", "DOCTOR"],
    ["LATENCY", "GRAPH", "command"], ["LATENCY", "HELP"], ["LATENCY", "FOO"], ["SLOWLOG", "GET", "-2"],
    ["SLOWLOG", "GET", "x"], ["SLOWLOG", "HELP"], ["SLOWLOG", "FOO"], ["PUBSUB", "HELP"], ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "CACHING", "YES"], ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
    # blocking commands that find data (or fail before blocking)
    ["RPUSH", "bq", "a", "b", "c"], ["BLPOP", "nobq", "bq", "0"], ["BRPOP", "bq", "0.5"], ["BLPOP", "bq", "abc"],
    ["BLPOP", "bq", "-1"], ["BLMOVE", "bq", "bq2", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "bq2", "bq", "0"],
    ["BLMPOP", "0", "1", "bq", "LEFT", "COUNT", "5"], ["BLMPOP", "0", "0", "bq", "LEFT"], ["BLMOVE", "x", "y", "UP", "LEFT", "0"],
    ["ZADD", "bz", "1", "a", "2", "b"], ["BZPOPMIN", "bz", "0"], ["BZPOPMAX", "nobz", "bz", "0"], ["EXISTS", "bz"],
    ["SET", "bstr", "x"], ["BLPOP", "bstr", "0"], ["BZPOPMIN", "bstr", "0"],
    # server
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "save"], ["CONFIG", "GET", "notify-keyspace-events"],
    ["CONFIG", "SET", "maxmemory", "abc"], ["CONFIG", "SET", "foo", "bar"], ["CONFIG", "SET", "maxmemory"],
    ["CONFIG", "SET", "maxmemory-policy", "bad"], ["CONFIG", "SET", "databases", "3"],
    ["CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"], ["CONFIG", "SET", "maxmemory", "1gb"],
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "0"], ["CONFIG", "SET", "appendfsync", "bad"],
    ["CONFIG", "SET", "timeout", "-1"], ["CONFIG", "SET", "protected-mode", "maybe"],
    ["CONFIG", "SET", "notify-keyspace-events", "KEA"], ["CONFIG", "GET", "notify-keyspace-events"],
    ["CONFIG", "SET", "notify-keyspace-events", "x$gK"], ["CONFIG", "GET", "notify-keyspace-events"],
    ["CONFIG", "SET", "notify-keyspace-events", "Q"], ["CONFIG", "SET", "notify-keyspace-events", ""],
    ["CONFIG", "SET", "save", "100 10 50 5"], ["CONFIG", "GET", "save"], ["CONFIG", "SET", "save", "100"],
    ["CONFIG", "SET", "save", ""], ["CONFIG", "FOO"], ["CONFIG"], ["CONFIG", "HELP"],
    ["CONFIG", "GET", "hash-max-ziplist-entries"], ["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 30"],
    ["CONFIG", "GET", "client-output-buffer-limit"], ["CONFIG", "SET", "client-output-buffer-limit", "foo 1 2 3"],
    ["COMMAND", "INFO", "get", "set", "nosuch"], ["COMMAND", "GETKEYS", "set", "a", "b"],
    ["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"], ["COMMAND", "GETKEYS", "ping"], ["COMMAND", "GETKEYS", "get"],
    ["COMMAND", "GETKEYS", "nosuch", "a"], ["COMMAND", "FOO"], ["MEMORY", "USAGE", "none"], ["MEMORY", "USAGE", "i"], ["MEMORY", "USAGE", "raw"], ["MEMORY", "HELP"], ["DEBUG", "FOO"],
    ["CLIENT", "SETNAME", "a b"], ["CLIENT", "SETNAME", "good"], ["CLIENT", "GETNAME"], ["CLIENT", "FOO"],
    ["CLIENT", "KILL", "1.2.3.4:5"], ["CLIENT", "KILL", "ID", "999999"], ["CLIENT", "KILL", "ID", "abc"],
    ["CLIENT", "KILL", "FOO", "bar"], ["CLIENT", "KILL", "TYPE", "foo"], ["CLIENT", "PAUSE", "abc"],
    ["CLIENT", "PAUSE", "-1"], ["CLIENT", "REPLY", "FOO"], ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "LIST", "TYPE", "foo"],
    ["CLIENT", "LIST", "ID", "abc"], ["CLIENT", "LIST", "FOO"], ["CLIENT", "UNPAUSE"], ["CLIENT", "GETREDIR"],
    ["CLIENT", "UNBLOCK", "99999"], ["CLIENT", "UNBLOCK", "1", "foo"], ["CLIENT", "UNBLOCK", "abc"], ["ROLE"],
    ["HELLO", "abc"], ["HELLO", "1"], ["HELLO", "3", "FOO"], ["HELLO", "3", "AUTH", "default"],
    ["HELLO", "3", "SETNAME", "a b"], ["LOLWUT", "VERSION", "abc"], ["SHUTDOWN", "FOO"], ["SHUTDOWN", "ABORT", "NOW"],
    ["SET", "k"], ["GET"], ["GET", "a", "b"], ["EXPIRE", "a"],
    # modules: none loaded; loading refused under the default enable-module-command
    ["MODULE", "LIST"], ["MODULE", "LIST", "x"], ["MODULE", "HELP"], ["MODULE"], ["MODULE", "NOSUCH"],
    ["MODULE", "LOAD", "/nonexistent.so"], ["MODULE", "LOADEX", "/x.so", "CONFIG", "a", "b"],
    ["MODULE", "UNLOAD", "foo"], ["MODULE", "LOAD"],
]


def run_all(server, resp3):
    c = server.raw()
    c.command("SELECT", "0")
    c.command("FLUSHALL")
    if resp3:
        c.command("HELLO", "3")
    out = []
    for cmd in COMMANDS:
        args = [a.encode("latin-1") if isinstance(a, str) else a for a in cmd]
        out.append((cmd, c.command(*args)))
    c.close()
    return out


@pytest.mark.parametrize("resp3", [False, True])
def test_replies_equal_redis(shared_swiftlet, reference_redis, resp3):
    expected = run_all(reference_redis, resp3)
    actual = run_all(shared_swiftlet, resp3)
    mismatches = [(cmd, e, a) for (cmd, e), (_, a) in zip(expected, actual) if e != a]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:30])


def test_command_docs_of_every_subcommand_equal_redis(shared_swiftlet, reference_redis):
    """A subcommand's COMMAND DOCS (what redis-cli's help and hints use) is the entry its
    container lists, for every subcommand both servers have."""
    names = set(shared_swiftlet.client().command_list()) & set(reference_redis.client().command_list())
    subcommands = sorted(name for name in names if b"|" in name)
    assert len(subcommands) > 50
    ours, theirs = shared_swiftlet.raw(), reference_redis.raw()
    for name in subcommands:
        assert ours.command("COMMAND", "DOCS", name) == theirs.command("COMMAND", "DOCS", name), name


def test_module_commands_when_enabled_fail_like_redis(start_swiftlet, tmp_path):
    """With enable-module-command yes a load fails with the error Redis gives for a library
    it cannot open, and unloading names no module."""
    s = start_swiftlet("--enable-module-command", "yes")
    c = s.raw()
    assert c.command("MODULE", "LOAD", "/nonexistent.so") == b"-ERR Error loading the extension. Please check the server logs.\r\n"
    assert c.command("MODULE", "UNLOAD", "foo") == b"-ERR Error unloading module: no such module with that name\r\n"
    assert c.command("MODULE", "LIST") == b"*0\r\n"


GETKEYS_ARGUMENTS = [
    [], ["k1"], ["k1", "k2"], ["k1", "k2", "k3"], ["k1", "2", "k2", "k3"], ["k1", "0", "k2"], ["2", "k1", "k2", "x"],
    ["k1", "k2", "STORE", "d"], ["STREAMS", "s1", "s2", "0", "0"], ["k1", "1", "k2", "k3", "k4", "k5"],
    ["k1", "-1", "x"], ["1", "k1", "LEFT"], ["0", "1", "k1", "LEFT"],
]
# Arity changed after 7.0 (ZRANK/ZREVRANK WITHSCORE in 7.2); PFMERGE with no source key.
GETKEYS_SKIP = {b"zrank", b"zrevrank", b"pfmerge"}


def test_command_getkeys_equal_redis(shared_swiftlet, reference_redis):
    """COMMAND GETKEYS for every command both servers have, with argument lists shaped for
    fixed, numkeys and keyword key positions: the same keys or the same error (no keys,
    a container's unknown subcommand, bad arity, a bad key count)."""
    names = set(shared_swiftlet.client().command_list()) & set(reference_redis.client().command_list())
    ours, theirs = shared_swiftlet.raw(), reference_redis.raw()
    mismatches = []
    for name in sorted(names - GETKEYS_SKIP):
        for extra in GETKEYS_ARGUMENTS:
            args = ["COMMAND", "GETKEYS"] + name.decode().split("|") + extra
            expected, actual = theirs.command(*args), ours.command(*args)
            if expected != actual:
                mismatches.append((args, expected, actual))
    assert mismatches == [], mismatches[:20]
