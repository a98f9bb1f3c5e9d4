/* Swiftlet's Lua engine: Redis's script_lua.c behaviour over Debian's liblua5.1.
 *
 * Lua errors unwind with longjmp, so everything that can raise one lives here in C: Swift
 * only hands in command results (RESP bytes) and takes script replies (RESP bytes) out. */
#include "lua_engine.h"

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua-bitop.h>
#include <lua5.1/lua-cjson.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csupport.h"

int swiftlet_luaopen_cmsgpack(lua_State *L);
int swiftlet_luaopen_struct(lua_State *L);

/* Lua's small blocks (strings, tables, closures of up to 256 bytes: nearly every
 * allocation a script makes) come from free lists by 16-byte class instead of malloc. A
 * script call allocates and frees a dozen of them (its KEYS and ARGV tables and their
 * strings, redis.call's reply), and glibc's malloc and free cost several times a list push
 * and pop (callgrind: about 2 000 instructions of each EVALSHA of a GET). Lua passes a
 * block's size back when it frees or resizes it, so its class needs no header. The lists
 * hold at most `POOL_LIMIT` bytes (beyond, blocks go back to free); they are emptied when
 * the state closes. */
#define POOL_CLASSES 16
#define POOL_MAX ((size_t)POOL_CLASSES * 16)
#define POOL_LIMIT ((size_t)1 << 20)

typedef struct {
    void *free[POOL_CLASSES];
    size_t pooled; /* bytes in the lists */
} lua_pool;

/* The class of a block of `n` bytes, 1 ≤ n ≤ POOL_MAX: its blocks have (class + 1) × 16. */
static inline size_t pool_class(size_t n) { return (n - 1) >> 4; }

static void *pool_take(lua_pool *p, size_t n) {
    size_t c = pool_class(n);
    void *b = p->free[c];
    if (!b) return malloc((c + 1) << 4);
    p->free[c] = *(void **)b;
    p->pooled -= (c + 1) << 4;
    return b;
}

static void pool_give(lua_pool *p, void *b, size_t n) {
    size_t c = pool_class(n);
    if (p->pooled + ((c + 1) << 4) > POOL_LIMIT) {
        free(b);
        return;
    }
    *(void **)b = p->free[c];
    p->free[c] = b;
    p->pooled += (c + 1) << 4;
}

static void pool_drain(lua_pool *p) {
    for (int c = 0; c < POOL_CLASSES; c++) {
        while (p->free[c]) {
            void *b = p->free[c];
            p->free[c] = *(void **)b;
            free(b);
        }
    }
    p->pooled = 0;
}

/* lua_Alloc (Lua 5.1): nsize 0 frees; a NULL ptr allocates; else a resize, which must not
 * fail when it shrinks. */
static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lua_pool *p = ud;
    if (nsize == 0) {
        if (ptr) {
            if (osize > 0 && osize <= POOL_MAX) pool_give(p, ptr, osize);
            else free(ptr);
        }
        return NULL;
    }
    if (!ptr) return nsize <= POOL_MAX ? pool_take(p, nsize) : malloc(nsize);
    int old_small = osize > 0 && osize <= POOL_MAX;
    if (!old_small && nsize > POOL_MAX) return realloc(ptr, nsize);
    if (old_small && nsize <= POOL_MAX && pool_class(nsize) == pool_class(osize)) return ptr;
    void *b = nsize <= POOL_MAX ? pool_take(p, nsize) : malloc(nsize);
    if (!b) return nsize <= osize ? ptr : NULL; /* a shrink keeps its block */
    memcpy(b, ptr, osize < nsize ? osize : nsize);
    if (old_small) pool_give(p, ptr, osize);
    else free(ptr);
    return b;
}

static int lua_panic_report(lua_State *L) {
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", lua_tostring(L, -1));
    return 0;
}

struct swiftlet_lua {
    lua_State *L;
    lua_pool pool; /* the state's small blocks (pool_alloc) */
    /* The run in progress: where redis.call sends commands. */
    swiftlet_lua_exec_fn exec;
    swiftlet_lua_log_fn log;
    void *ctx;
    int resp;          /* redis.setresp: protocol of redis.call replies */
    int client_resp3;  /* protocol of the script's own reply */
    uint64_t rand48;   /* math.random's state (redisLrand48) */
    int gc_count;      /* calls since the last incremental GC step */
    /* The script or function running as a coroutine (suspended past the busy threshold). */
    lua_State *co;
    int co_ref;
    /* A coroutine whose last script ended normally, kept for the next one: creating a
     * thread per call (and collecting it) was a fifth of a small script's cost. */
    lua_State *idle;
    int idle_ref;
    /* The globals table (registry reference), and the function EVALSHA ran last: a
     * client calls the same script again and again, and looking it up by its 40-byte name
     * hashes that name each time. */
    int globals_ref;
    /* The names KEYS and ARGV as Lua strings (registry references): set with rawset each
     * call, they are not hashed and interned again. */
    int keys_name_ref;
    int argv_name_ref;
    int hook_yielded; /* the count hook suspended a coroutine (not the script itself) */
    char last_sha[41];
    int last_fn_ref;
    char name[64];        /* its SHA-1 or function name */
    long long started_ms; /* when it started */
    long long busy_ms;    /* busy-reply-threshold (0: never suspend) */
    /* The script's reply is an error already counted in INFO errorstats: a redis.call
     * error passed on (Redis's ignore_error_stats_update). */
    int reply_error_counted;
    int killed;           /* SCRIPT KILL / FUNCTION KILL asked */
    int loading;          /* FUNCTION LOAD is running a library's code */
    long long load_started_ms;
    /* redis.call's reply, kept between calls with its capacity (a malloc and free per call
     * otherwise); calls never nest, as a script cannot run a script. */
    swiftlet_buf call_reply;
};

/* ---- buffers ---- */

void swiftlet_buf_append(swiftlet_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void swiftlet_buf_free(swiftlet_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void swiftlet_buf_reset(swiftlet_buf *b) {
    if (b->cap > 64 * 1024) swiftlet_buf_free(b);
    b->len = 0;
}

static void buf_str(swiftlet_buf *b, const char *s) { swiftlet_buf_append(b, s, strlen(s)); }

static void buf_fmt_len(swiftlet_buf *b, char type, long long n) {
    char tmp[32];
    char *p = tmp + sizeof(tmp);
    *--p = '\n';
    *--p = '\r';
    unsigned long long v = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (n < 0) *--p = '-';
    *--p = type;
    swiftlet_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* The integer at the start of a RESP header (after its type byte). */
static long long parse_ll(const char *p, const char *end) {
    int neg = 0;
    long long v = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return neg ? -v : v;
}

static void buf_bulk(swiftlet_buf *b, const char *p, size_t n) {
    buf_fmt_len(b, '$', (long long)n);
    swiftlet_buf_append(b, p, n);
    swiftlet_buf_append(b, "\r\n", 2);
}

/* A simple or error line: CR and LF become spaces, as Redis's addReplyStatusLength does. */
static void buf_line(swiftlet_buf *b, char type, const char *p, size_t n) {
    swiftlet_buf_append(b, &type, 1);
    for (size_t i = 0; i < n; i++) {
        char c = (p[i] == '\r' || p[i] == '\n') ? ' ' : p[i];
        swiftlet_buf_append(b, &c, 1);
    }
    swiftlet_buf_append(b, "\r\n", 2);
}

void swiftlet_sha1_hex(const void *data, size_t len, char out[41]) {
    unsigned char digest[20];
    static const char hex[] = "0123456789abcdef";
    swiftlet_sha1(data, len, digest);
    for (int i = 0; i < 20; i++) {
        out[i * 2] = hex[digest[i] >> 4];
        out[i * 2 + 1] = hex[digest[i] & 15];
    }
    out[40] = '\0';
}

/* ---- errors as Redis keeps them: tables {err="CODE message"} ---- */

/* luaPushErrorBuff: "-CODE msg" loses its '-'; a message without a code gets "ERR ". */
static void push_error_table(lua_State *L, const char *msg, size_t len) {
    lua_newtable(L);
    lua_pushstring(L, "err");
    if (len > 0 && msg[0] == '-') {
        lua_pushlstring(L, msg + 1, len - 1);
    } else {
        const char *space = memchr(msg, ' ', len);
        int has_code = space && space > msg;
        for (const char *c = msg; has_code && c < space; c++)
            if (*c < 'A' || *c > 'Z') has_code = 0;
        if (has_code) {
            lua_pushlstring(L, msg, len);
        } else {
            lua_pushstring(L, "ERR ");
            lua_pushlstring(L, msg, len);
            lua_concat(L, 2);
        }
    }
    lua_settable(L, -3);
}

static swiftlet_lua *engine_of(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_engine");
    swiftlet_lua *e = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return e;
}

/* ---- RESP reply -> Lua value (redisProtocolToLuaType) ---- */

static const char *parse_line_end(const char *p, const char *end) {
    while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n')) p++;
    return p;
}

static const char *resp_to_lua(lua_State *L, const char *p, const char *end, int resp3);

static const char *resp_aggregate(lua_State *L, const char *p, const char *end, long long n, int resp3, char type) {
    if (type == '%') {
        /* RESP3 map: {map={k=v,...}} */
        lua_newtable(L);
        lua_pushstring(L, "map");
        lua_newtable(L);
        for (long long i = 0; i < n; i++) {
            p = resp_to_lua(L, p, end, resp3);
            p = resp_to_lua(L, p, end, resp3);
            lua_settable(L, -3);
        }
        lua_settable(L, -3);
        return p;
    }
    if (type == '~') {
        /* RESP3 set: {set={member=true,...}} */
        lua_newtable(L);
        lua_pushstring(L, "set");
        lua_newtable(L);
        for (long long i = 0; i < n; i++) {
            p = resp_to_lua(L, p, end, resp3);
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        lua_settable(L, -3);
        return p;
    }
    lua_newtable(L);
    for (long long i = 0; i < n; i++) {
        lua_pushnumber(L, (lua_Number)(i + 1));
        p = resp_to_lua(L, p, end, resp3);
        lua_settable(L, -3);
    }
    return p;
}

static const char *resp_to_lua(lua_State *L, const char *p, const char *end, int resp3) {
    if (p >= end) {
        lua_pushboolean(L, 0);
        return p;
    }
    char type = *p;
    const char *eol = parse_line_end(p + 1, end);
    size_t linelen = (size_t)(eol - (p + 1));
    const char *next = eol + 2;
    char num[64];
    size_t nl = linelen < sizeof(num) - 1 ? linelen : sizeof(num) - 1;
    memcpy(num, p + 1, nl);
    num[nl] = '\0';
    switch (type) {
    case ':':
        lua_pushnumber(L, (lua_Number)parse_ll(p + 1, eol));
        return next;
    case '$': {
        long long n = parse_ll(p + 1, eol);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_pushlstring(L, next, (size_t)n);
        return next + n + 2;
    }
    case '+':
        lua_newtable(L);
        lua_pushstring(L, "ok");
        lua_pushlstring(L, p + 1, linelen);
        lua_settable(L, -3);
        return next;
    case '-':
        push_error_table(L, p + 1, linelen);
        return next;
    case '*': case '%': case '~': case '>': {
        long long n = parse_ll(p + 1, eol);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        return resp_aggregate(L, next, end, n, resp3, type == '>' ? '*' : type);
    }
    case '|': {
        /* An attribute: parsed and dropped (not exposed to scripts); the value follows. */
        long long n = parse_ll(p + 1, eol);
        const char *after = resp_aggregate(L, next, end, n < 0 ? 0 : n, resp3, '%');
        lua_pop(L, 1);
        return resp_to_lua(L, after, end, resp3);
    }
    case '_':
        lua_pushnil(L);
        return next;
    case '#':
        lua_pushboolean(L, p[1] == 't');
        return next;
    case ',':
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, strtod(num, NULL));
        lua_settable(L, -3);
        return next;
    case '(':
        lua_newtable(L);
        lua_pushstring(L, "big_number");
        lua_pushlstring(L, p + 1, linelen);
        lua_settable(L, -3);
        return next;
    case '=': {
        long long n = strtoll(num, NULL, 10);
        lua_newtable(L);
        lua_pushstring(L, "verbatim_string");
        lua_newtable(L);
        lua_pushstring(L, "format");
        lua_pushlstring(L, next, 3);
        lua_settable(L, -3);
        lua_pushstring(L, "string");
        lua_pushlstring(L, next + 4, n >= 4 ? (size_t)n - 4 : 0);
        lua_settable(L, -3);
        lua_settable(L, -3);
        return next + n + 2;
    }
    default:
        lua_pushboolean(L, 0);
        return end;
    }
}

/* ---- redis.call / redis.pcall ---- */

#define ACL_CHECK 2

/* redis.call (raise 1), redis.pcall (0) and redis.acl_check_cmd (ACL_CHECK). */
static int redis_generic_command(lua_State *L, int raise) {
    swiftlet_lua *e = engine_of(L);
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_error_table(L, "Please specify at least one argument for this redis lib call", strlen("Please specify at least one argument for this redis lib call"));
        return raise ? lua_error(L) : 1;
    }
    /* Up to STACK_ARGS arguments (nearly every call) live on the stack, as Redis keeps a
     * reused argv for scripts: three mallocs and frees per redis.call otherwise. */
    enum { STACK_ARGS = 8 };
    const char *argv_stack[STACK_ARGS];
    size_t lens_stack[STACK_ARGS];
    char numbuf_stack[STACK_ARGS][64];
    int on_heap = argc > STACK_ARGS;
    const char **argv = on_heap ? malloc(sizeof(char *) * (size_t)argc) : argv_stack;
    size_t *lens = on_heap ? malloc(sizeof(size_t) * (size_t)argc) : lens_stack;
    char (*numbuf)[64] = on_heap ? malloc(64 * (size_t)argc) : numbuf_stack;
    for (int j = 0; j < argc; j++) {
        int t = lua_type(L, j + 1);
        if (t == LUA_TNUMBER) {
            /* Integers as integers, else with 17 significant digits (Redis's %.17g). */
            lua_Number n = lua_tonumber(L, j + 1);
            long long ll = (long long)n;
            int k = ((lua_Number)ll == n) ? snprintf(numbuf[j], 64, "%lld", ll) : snprintf(numbuf[j], 64, "%.17g", (double)n);
            argv[j] = numbuf[j];
            lens[j] = (size_t)k;
        } else if (t == LUA_TSTRING) {
            argv[j] = lua_tolstring(L, j + 1, &lens[j]);
        } else {
            if (on_heap) {
                free(argv);
                free(lens);
                free(numbuf);
            }
            push_error_table(L, "Lua redis lib command arguments must be strings or integers", strlen("Lua redis lib command arguments must be strings or integers"));
            return raise ? lua_error(L) : 1;
        }
    }
    swiftlet_buf *reply = &e->call_reply;
    reply->len = 0;
    /* redis.acl_check_cmd asks with protocol -1: the server answers :1 or :0 (or an error)
     * without running the command. */
    e->exec(e->ctx, argc, argv, lens, raise == ACL_CHECK ? -1 : e->resp, reply);
    if (on_heap) {
        free(argv);
        free(lens);
        free(numbuf);
    }
    if (raise == ACL_CHECK) {
        if (reply->len > 1 && reply->data[0] == ':') {
            lua_pushboolean(L, reply->data[1] == '1');
            swiftlet_buf_reset(reply);
            return 1;
        }
        push_error_table(L, "Invalid command passed to redis.acl_check_cmd()",
                         strlen("Invalid command passed to redis.acl_check_cmd()"));
        swiftlet_buf_reset(reply);
        return lua_error(L);
    }
    int is_error = reply->len > 0 && reply->data[0] == '-';
    resp_to_lua(L, reply->data, reply->data + reply->len, e->resp == 3);
    swiftlet_buf_reset(reply);
    if (is_error) {
        /* The server counted this error when the command failed: passed on as the
         * script's reply it is not counted again. */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ignore_error_stats_update");
    }
    if (is_error && raise) return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L) { return redis_generic_command(L, 1); }
static int redis_pcall(lua_State *L) { return redis_generic_command(L, 0); }
static int redis_acl_check_cmd(lua_State *L) { return redis_generic_command(L, ACL_CHECK); }

static int redis_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) {
        lua_pushstring(L, "wrong number of arguments");
        return lua_error(L);
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    swiftlet_sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int return_single_field_table(lua_State *L, const char *field) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", strlen("wrong number or type of arguments"));
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

static int redis_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", strlen("wrong number or type of arguments"));
        return 1;
    }
    /* Redis's luaPushErrorBuff of "-" + the text: the code is the first word ("ERR" when
     * there is no space), the rest the message, trailing line ends trimmed. */
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-') {
        s++;
        len--;
    }
    const char *space = memchr(s, ' ', len);
    const char *msg = space ? space + 1 : s;
    size_t msg_len = space ? len - (size_t)(space - s) - 1 : len;
    while (msg_len > 0 && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n')) msg_len--;
    lua_newtable(L);
    lua_pushstring(L, "err");
    if (space) lua_pushlstring(L, s, (size_t)(space - s)); else lua_pushstring(L, "ERR");
    lua_pushstring(L, " ");
    lua_pushlstring(L, msg, msg_len);
    lua_concat(L, 3);
    lua_settable(L, -3);
    return 1;
}

static int redis_status_reply(lua_State *L) { return return_single_field_table(L, "ok"); }

static int redis_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) {
        lua_pushstring(L, "redis.log() requires two arguments or more.");
        return lua_error(L);
    }
    if (!lua_isnumber(L, 1)) {
        lua_pushstring(L, "First argument must be a number (log level).");
        return lua_error(L);
    }
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3) {
        lua_pushstring(L, "Invalid debug level.");
        return lua_error(L);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int j = 2; j <= argc; j++) {
        size_t len;
        const char *s = lua_tolstring(L, j, &len);
        if (!s) continue;
        if (j != 2) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    swiftlet_lua *e = engine_of(L);
    if (e->log) e->log(e->ctx, level, msg, len);
    return 0;
}

static int redis_setresp(lua_State *L) {
    if (lua_gettop(L) != 1) {
        lua_pushstring(L, "redis.setresp() requires one argument.");
        return lua_error(L);
    }
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) {
        lua_pushstring(L, "RESP version must be 2 or 3.");
        return lua_error(L);
    }
    engine_of(L)->resp = resp;
    return 0;
}

static int redis_set_repl(lua_State *L) {
    if (lua_gettop(L) != 1) {
        lua_pushstring(L, "redis.set_repl() requires one argument.");
        return lua_error(L);
    }
    int flags = (int)lua_tonumber(L, 1);
    if (flags < 0 || flags > 3) {
        lua_pushstring(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return lua_error(L);
    }
    return 0;
}

static int redis_true(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_false(lua_State *L) {
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_nothing(lua_State *L) {
    (void)L;
    return 0;
}

/* ---- math.random as Redis's (redisLrand48, reseeded with 0 before every script) ---- */

static void redis_srand48(swiftlet_lua *e, int32_t seed) { e->rand48 = ((uint64_t)(uint32_t)seed << 16) | 0x330E; }

static int32_t redis_lrand48(swiftlet_lua *e) {
    e->rand48 = (0x5DEECE66DULL * e->rand48 + 0xB) & ((1ULL << 48) - 1);
    return (int32_t)(e->rand48 >> 17);
}

#define REDIS_LRAND48_MAX INT32_MAX

static int redis_math_random(lua_State *L) {
    lua_Number r = (lua_Number)(redis_lrand48(engine_of(L)) % REDIS_LRAND48_MAX) / (lua_Number)REDIS_LRAND48_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int redis_math_randomseed(lua_State *L) {
    redis_srand48(engine_of(L), luaL_checkint(L, 1));
    return 0;
}

/* ---- Lua value -> RESP reply (luaReplyToRedisReply) ---- */

static void lua_to_resp(lua_State *L, swiftlet_buf *out, int resp3, int depth);

static int table_string_field(lua_State *L, const char *field) {
    lua_pushstring(L, field);
    lua_rawget(L, -2);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING) return 1;
    lua_pop(L, 1);
    return 0;
}

static void lua_to_resp(lua_State *L, swiftlet_buf *out, int resp3, int depth) {
    int t = lua_type(L, -1);
    if (!lua_checkstack(L, 4) || depth > 1000) {
        buf_str(out, "-ERR reached lua stack limit\r\n");
        return;
    }
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        buf_bulk(out, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        /* Booleans follow the script's protocol (redis.setresp): under RESP2 true is 1 and
         * false a null; under RESP3 they are booleans (integers for a RESP2 client). */
        int truth = lua_toboolean(L, -1);
        if (engine_of(L)->resp == 3) {
            if (resp3) buf_str(out, truth ? "#t\r\n" : "#f\r\n"); else buf_str(out, truth ? ":1\r\n" : ":0\r\n");
        } else if (truth) {
            buf_str(out, ":1\r\n");
        } else {
            buf_str(out, resp3 ? "_\r\n" : "$-1\r\n");
        }
        break;
    }
    case LUA_TNUMBER:
        buf_fmt_len(out, ':', (long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE: {
        if (table_string_field(L, "err")) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            buf_line(out, '-', s, len);
            lua_pop(L, 1);
            if (depth == 0) {
                lua_pushstring(L, "ignore_error_stats_update");
                lua_rawget(L, -2);
                engine_of(L)->reply_error_counted = lua_toboolean(L, -1);
                lua_pop(L, 1);
            }
            break;
        }
        if (table_string_field(L, "ok")) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            buf_line(out, '+', s, len);
            lua_pop(L, 1);
            break;
        }
        /* RESP3 tables: double, map, set, big_number, verbatim_string. */
        lua_pushstring(L, "double");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            char tmp[64];
            double d = lua_tonumber(L, -1);
            if (resp3) {
                int k = snprintf(tmp, sizeof(tmp), ",%.17g\r\n", d);
                swiftlet_buf_append(out, tmp, (size_t)k);
            } else {
                int k = snprintf(tmp, sizeof(tmp), "%.17g", d);
                buf_bulk(out, tmp, (size_t)k);
            }
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "big_number");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            /* Line breaks become spaces in both protocols, as Redis's sdsmapchars. */
            char *mapped = malloc(len ? len : 1);
            if (!mapped) {
                lua_pop(L, 1);
                buf_str(out, "-ERR out of memory\r\n");
                break;
            }
            for (size_t i = 0; i < len; i++) mapped[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
            if (resp3) buf_line(out, '(', mapped, len); else buf_bulk(out, mapped, len);
            free(mapped);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "map");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            swiftlet_buf body = {0};
            long long n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_to_resp(L, &body, resp3, depth + 1);
                lua_pop(L, 1);
                lua_to_resp(L, &body, resp3, depth + 1);
                lua_pop(L, 1);
                n++;
            }
            if (resp3) buf_fmt_len(out, '%', n); else buf_fmt_len(out, '*', n * 2);
            swiftlet_buf_append(out, body.data, body.len);
            swiftlet_buf_free(&body);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "set");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            swiftlet_buf body = {0};
            long long n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_to_resp(L, &body, resp3, depth + 1);
                lua_pop(L, 1);
                n++;
            }
            buf_fmt_len(out, resp3 ? '~' : '*', n);
            swiftlet_buf_append(out, body.data, body.len);
            swiftlet_buf_free(&body);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "verbatim_string");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushstring(L, "format");
            lua_rawget(L, -2);
            lua_pushstring(L, "string");
            lua_rawget(L, -3);
            if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
                size_t flen, slen;
                const char *f = lua_tolstring(L, -2, &flen);
                const char *s = lua_tolstring(L, -1, &slen);
                if (resp3 && flen == 3) {
                    buf_fmt_len(out, '=', (long long)slen + 4);
                    swiftlet_buf_append(out, f, 3);
                    swiftlet_buf_append(out, ":", 1);
                    swiftlet_buf_append(out, s, slen);
                    swiftlet_buf_append(out, "\r\n", 2);
                } else {
                    buf_bulk(out, s, slen);
                }
                lua_pop(L, 3);
                break;
            }
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        /* An array: elements 1, 2, ... up to the first nil. */
        swiftlet_buf body = {0};
        long long n = 0;
        for (;;) {
            /* Raw, as Redis reads it: a metatable's __index (the sandbox's _G raises for
             * missing names) never runs while a reply is built. */
            lua_pushnumber(L, (lua_Number)(n + 1));
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            lua_to_resp(L, &body, resp3, depth + 1);
            lua_pop(L, 1);
            n++;
        }
        buf_fmt_len(out, '*', n);
        swiftlet_buf_append(out, body.data, body.len);
        swiftlet_buf_free(&body);
        break;
    }
    default:
        buf_str(out, resp3 ? "_\r\n" : "$-1\r\n");
        break;
    }
}

/* ---- the environment ---- */

/* Redis 7's read-only globals: _G stays empty and reads go through __index to the real
 * globals (kept in the registry); any write, and any read of a missing name, is an error
 * reported at the script's line. Library tables are read-only proxies likewise. */
static int sandbox_newindex(lua_State *L) {
    luaL_where(L, 1);
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

static int sandbox_index(lua_State *L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    const char *name = lua_tostring(L, 2);
    luaL_where(L, 1);
    lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
    lua_concat(L, 2);
    return lua_error(L);
}

/* Whether the value at `index` is one of the sandbox's read-only tables (its metatable
 * refuses writes with sandbox_newindex). */
static int is_readonly_table(lua_State *L, int index) {
    if (!lua_istable(L, index) || !lua_getmetatable(L, index)) return 0;
    lua_pushstring(L, "__newindex");
    lua_rawget(L, -2);
    int readonly = lua_tocfunction(L, -1) == sandbox_newindex;
    lua_pop(L, 2);
    return readonly;
}

/* setmetatable and rawset refuse the read-only tables as Redis's read-only Lua tables
 * do, with the same error as any other write (the original function is upvalue 1). */
static int guarded_table_write(lua_State *L) {
    if (is_readonly_table(L, 1)) return sandbox_newindex(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_table_write(lua_State *L, const char *name) {
    lua_getglobal(L, name);
    lua_pushcclosure(L, guarded_table_write, 1);
    lua_setglobal(L, name);
}

/* Makes the table at the top of the stack read-only: what getmetatable returns for it is
 * a read-only view of its metatable, so that cannot be changed either. */
static void seal_table(lua_State *L, lua_CFunction index_fn, int index_upvalue) {
    int table = lua_gettop(L);
    lua_newtable(L); /* the metatable */
    if (index_fn) {
        lua_pushvalue(L, index_upvalue);
        lua_pushcclosure(L, index_fn, 1);
    } else {
        lua_pushvalue(L, index_upvalue);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sandbox_newindex);
    lua_setfield(L, -2, "__newindex");
    /* The metatable's own read-only view. */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sandbox_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, table);
}

/* Leaves a read-only proxy of the table at `index` on the stack. */
static void push_readonly_proxy(lua_State *L, int index) {
    index = index < 0 ? lua_gettop(L) + index + 1 : index;
    lua_newtable(L);
    seal_table(L, NULL, index);
}

static void install_yieldable_pcall(lua_State *L);

static void install_sandbox(lua_State *L) {
    guard_table_write(L, "setmetatable");
    guard_table_write(L, "rawset");
    lua_newtable(L);
    int real = lua_gettop(L);
    lua_newtable(L);
    int names = lua_gettop(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, LUA_GLOBALSINDEX)) {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, real);
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, names, ++n);
    }
    static const char *libs[] = {"string", "math", "table", "redis", "cjson", "bit", "cmsgpack", "struct", "os", "coroutine", NULL};
    for (int i = 0; libs[i]; i++) {
        lua_getfield(L, real, libs[i]);
        if (lua_istable(L, -1)) {
            push_readonly_proxy(L, -1);
            lua_setfield(L, real, libs[i]);
        }
        lua_pop(L, 1);
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, names, i);
        lua_pushnil(L);
        lua_rawset(L, LUA_GLOBALSINDEX);
    }
    lua_pop(L, 1); /* names */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    seal_table(L, sandbox_index, real);
    lua_pop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_globals");
}

static const char *error_handler_lua =
    "local dbg, type, tostring = debug, type, tostring\n"
    "return function(err)\n"
    "  local i = dbg.getinfo(2, 'nSl')\n"
    "  if i and i.what == 'C' then i = dbg.getinfo(3, 'nSl') end\n"
    "  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end\n"
    "  if i then err['source'] = i.source; err['line'] = i.currentline end\n"
    "  return err\n"
    "end\n";

static void set_function(lua_State *L, const char *name, lua_CFunction f) {
    lua_pushstring(L, name);
    lua_pushcfunction(L, f);
    lua_settable(L, -3);
}

static void set_number(lua_State *L, const char *name, int n) {
    lua_pushstring(L, name);
    lua_pushnumber(L, n);
    lua_settable(L, -3);
}

/* The log levels and version fields of the `redis` table (on top of the stack), shared by
 * scripts and by libraries while they load. */
static void set_log_and_version(lua_State *L) {
    set_number(L, "LOG_DEBUG", 0);
    set_number(L, "LOG_VERBOSE", 1);
    set_number(L, "LOG_NOTICE", 2);
    set_number(L, "LOG_WARNING", 3);
    lua_pushstring(L, "REDIS_VERSION");
    lua_pushstring(L, "7.4.0");
    lua_settable(L, -3);
    set_number(L, "REDIS_VERSION_NUM", 0x070400);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction f) {
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static int text_only_loadstring(lua_State *L) {
    size_t len;
    const char *code = lua_tolstring(L, 1, &len);
    if (code && len > 0 && code[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "loadstring: binary chunks are not allowed");
        return 2;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

swiftlet_lua *swiftlet_lua_create(void) {
    swiftlet_lua *e = calloc(1, sizeof(*e));
    lua_State *L = lua_newstate(pool_alloc, &e->pool);
    lua_atpanic(L, lua_panic_report);
    e->L = L;
    /* Redis 7 no longer reseeds before each script: one sequence for the server's life. */
    redis_srand48(e, 0);
    e->resp = 2;
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_DBLIBNAME, luaopen_debug);
    open_lib(L, LUA_OSLIBNAME, luaopen_os);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    lua_pushcfunction(L, luaopen_bit);
    lua_call(L, 0, 1);
    lua_setglobal(L, "bit");
    lua_pushcfunction(L, swiftlet_luaopen_cmsgpack);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, swiftlet_luaopen_struct);
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
    lua_settop(L, 0);

    lua_pushlightuserdata(L, e);
    lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_engine");

    /* What Redis removes: files, dynamic loading, most of os. */
    static const char *removed[] = {"loadfile", "dofile", "require", "module", "package", "print", "newproxy", "gcinfo", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_getglobal(L, "os");
    lua_getfield(L, -1, "clock");
    lua_newtable(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    lua_pop(L, 2);

    /* loadstring refuses precompiled chunks, as Redis's Lua does (bytecode can break
     * out of the sandbox): it answers nil and a message. */
    lua_getglobal(L, "loadstring");
    lua_pushcclosure(L, text_only_loadstring, 1);
    lua_setglobal(L, "loadstring");

    lua_getglobal(L, "math");
    set_function(L, "random", redis_math_random);
    set_function(L, "randomseed", redis_math_randomseed);
    lua_pop(L, 1);

    lua_newtable(L);
    set_function(L, "call", redis_call);
    set_function(L, "pcall", redis_pcall);
    set_function(L, "sha1hex", redis_sha1hex);
    set_function(L, "error_reply", redis_error_reply);
    set_function(L, "acl_check_cmd", redis_acl_check_cmd);
    set_function(L, "status_reply", redis_status_reply);
    set_function(L, "log", redis_log);
    set_function(L, "setresp", redis_setresp);
    set_function(L, "set_repl", redis_set_repl);
    set_function(L, "replicate_commands", redis_true);
    set_function(L, "breakpoint", redis_false);
    set_function(L, "debug", redis_nothing);
    set_log_and_version(L);
    set_number(L, "REPL_NONE", 0);
    set_number(L, "REPL_AOF", 1);
    set_number(L, "REPL_SLAVE", 2);
    set_number(L, "REPL_REPLICA", 2);
    set_number(L, "REPL_ALL", 3);
    lua_setglobal(L, "redis");

    /* The error handler, kept in the registry before the sandbox hides debug. */
    if (luaL_loadbuffer(L, error_handler_lua, strlen(error_handler_lua), "@error_handler") == 0 && lua_pcall(L, 0, 1, 0) == 0) {
        lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_err_handler");
    } else {
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    lua_setglobal(L, "debug");

    install_yieldable_pcall(L);
    install_sandbox(L);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_scripts");
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_globals");
    e->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "KEYS");
    e->keys_name_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "ARGV");
    e->argv_name_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    e->last_fn_ref = LUA_NOREF;
    return e;
}

void swiftlet_lua_destroy(swiftlet_lua *e) {
    if (!e) return;
    lua_close(e->L);
    pool_drain(&e->pool);
    swiftlet_buf_free(&e->call_reply);
    free(e);
}

static void push_scripts(lua_State *L) { lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_scripts"); }

/* A compile error (the message luaL_loadbuffer left on the stack) as an error reply. */
static void compile_error(lua_State *L, const char *prefix, swiftlet_buf *out) {
    size_t mlen;
    const char *msg = lua_tolstring(L, -1, &mlen);
    swiftlet_buf m = {0};
    buf_str(&m, prefix);
    swiftlet_buf_append(&m, msg ? msg : "", msg ? mlen : 0);
    buf_line(out, '-', m.data, m.len);
    swiftlet_buf_free(&m);
    lua_settop(L, 0);
}

int swiftlet_lua_has(swiftlet_lua *e, const char *sha) {
    lua_State *L = e->L;
    push_scripts(L);
    lua_getfield(L, -1, sha);
    int found = lua_isfunction(L, -1);
    lua_pop(L, 2);
    return found;
}

int swiftlet_lua_compile(swiftlet_lua *e, const char *sha, const char *body, size_t len, swiftlet_buf *out) {
    lua_State *L = e->L;
    if (swiftlet_lua_has(e, sha)) return 0;
    /* A shebang line (#!lua ...) is Redis 7's flags: the code starts on the next line. */
    size_t skip = 0;
    if (len >= 2 && body[0] == '#' && body[1] == '!') {
        while (skip < len && body[skip] != '\n') skip++;
    }
    int status = luaL_loadbuffer(L, len > skip ? body + skip : "", len - skip, "@user_script");
    if (status != 0) {
        compile_error(L, "ERR Error compiling script (new function): ", out);
        return -1;
    }
    /* The chunk runs in the sandboxed globals. */
    push_scripts(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 2);
    return 0;
}

/* A Lua array of byte strings (KEYS, ARGV, a function's parameters). */
static void push_string_array(lua_State *L, int n, const char **items, const size_t *lens) {
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) {
        lua_pushlstring(L, items[j], lens[j]);
        lua_rawseti(L, -2, j + 1);
    }
}

/* KEYS or ARGV (`name_ref`, the name's registry reference) in the globals, a new table
 * each call as Redis makes it. Set raw: the names are the engine's own. */
static void set_global_array(swiftlet_lua *e, int name_ref, int n, const char **items, const size_t *lens) {
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->globals_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, name_ref);
    push_string_array(L, n, items, lens);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether every frame of the coroutine is a Lua function: a yield across a C boundary
 * (pcall, a metamethod, sort's comparator…) is not possible in Lua 5.1. */
static int can_yield(lua_State *co) {
    lua_Debug ar;
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        lua_getinfo(co, "S", &ar);
        if (ar.what[0] == 'C') return 0;
    }
    return 1;
}

/* Every 100 000 instructions: a kill ends the script; past busy-reply-threshold the
 * script yields, so the server answers other clients (BUSY) between slices. */
static const char *killed_message = "ERR Script killed by user with SCRIPT KILL...";

static void count_hook(lua_State *co, lua_Debug *ar) {
    (void)ar;
    swiftlet_lua *e = engine_of(co);
    if (e->killed) {
        /* From now on on every line, as Redis's hook: a pcall may catch one raise, the
         * script's next line gets the next. What a pcall catches is this string, as in
         * Redis (functions get the same text). */
        lua_sethook(co, count_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1000);
        lua_pushstring(co, killed_message);
        lua_error(co);
        return;
    }
    if (e->busy_ms > 0 && now_ms() - e->started_ms >= e->busy_ms && can_yield(co)) {
        e->hook_yielded = 1;
        lua_yield(co, 0);
    }
}

/* For the pcall below: whether the hook made the last yield (cleared as it is read). */
static int hook_yielded(lua_State *L) {
    swiftlet_lua *e = engine_of(L);
    lua_pushboolean(L, e->hook_yielded);
    e->hook_yielded = 0;
    return 1;
}

/* pcall of a Lua function runs it as a coroutine: Lua 5.1 cannot yield across the C
 * pcall, so a script spinning inside one could not be suspended past busy-reply-threshold
 * (the server would stop answering). A hook's yield inside is passed up to the script's
 * own coroutine; a script's own coroutine.yield inside gets Lua 5.1's error, as before.
 * A kill's error is caught like any other, as Redis's pcall catches it (the hook then
 * raises it again on every line, as Redis's does). C functions (pcall(redis.call, ...),
 * pcall(cjson.decode, ...)) and non-functions go to the real pcall. */
static const char *yieldable_pcall_lua =
    "local real_pcall, hook_yielded = ...\n"
    "local create, resume, status, yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield\n"
    "local type, select, unpack = type, select, unpack\n"
    "local function pack(...) return {n = select('#', ...), ...} end\n"
    "return function(f, ...)\n"
    "  if type(f) ~= 'function' or iscfunction(f) then return real_pcall(f, ...) end\n"
    "  local co = create(f)\n"
    "  local r = pack(resume(co, ...))\n"
    "  while status(co) == 'suspended' do\n"
    "    if not hook_yielded() then return false, 'attempt to yield across metamethod/C-call boundary' end\n"
    "    yield()\n"
    "    r = pack(resume(co))\n"
    "  end\n"
    "  return unpack(r, 1, r.n)\n"
    "end\n";

static int is_c_function(lua_State *L) {
    lua_pushboolean(L, lua_iscfunction(L, 1));
    return 1;
}

/* Replaces the global pcall (before the sandbox freezes the globals). */
static void install_yieldable_pcall(lua_State *L) {
    if (luaL_loadbuffer(L, yieldable_pcall_lua, strlen(yieldable_pcall_lua), "=pcall") != 0) {
        lua_pop(L, 1);
        return;
    }
    /* The chunk reads `iscfunction` as a global: give it an environment that has it. */
    lua_newtable(L);
    lua_pushcfunction(L, is_c_function);
    lua_setfield(L, -2, "iscfunction");
    lua_newtable(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfenv(L, -2);
    lua_getglobal(L, "pcall");
    lua_pushcfunction(L, hook_yielded);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        lua_pop(L, 1);
        return;
    }
    lua_setglobal(L, "pcall");
}

/* Converts the value on top of L to a reply inside a protected call, so an error the
 * conversion raises (out of memory in a huge or deep table) becomes an error reply
 * instead of Lua's panic. */
struct reply_args {
    swiftlet_buf *out;
    int resp3;
};

static int reply_body(lua_State *L) {
    struct reply_args *a = (struct reply_args *)lua_touserdata(L, 2);
    lua_settop(L, 1);
    lua_to_resp(L, a->out, a->resp3, 0);
    return 0;
}

static void reply_protected(lua_State *L, swiftlet_buf *out, int resp3) {
    if (lua_type(L, -1) != LUA_TTABLE) {
        /* A string, number, boolean or nil converts without running any Lua (only a
         * table's conversion can raise), so it needs no protected call: most scripts
         * return one of these, and the pcall with its closure cost a tenth of a small
         * script's run. */
        lua_to_resp(L, out, resp3, 0);
        lua_pop(L, 1);
        return;
    }
    swiftlet_buf body = {0};
    struct reply_args a = {&body, resp3};
    lua_pushcfunction(L, reply_body);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        const char *msg = lua_tostring(L, -1);
        swiftlet_buf m = {0};
        buf_str(&m, "ERR ");
        buf_str(&m, msg ? msg : "unknown error");
        buf_line(out, '-', m.data, m.len);
        swiftlet_buf_free(&m);
        lua_pop(L, 1);
    } else {
        swiftlet_buf_append(out, body.data, body.len);
    }
    swiftlet_buf_free(&body);
}

/* The reply of a finished or failed coroutine (status from lua_resume), with Redis's
 * "script: <name>, on <source>:<line>." suffix on errors; then the stack is cleared and,
 * every 50 calls, the collector takes a step (LUA_GC_CYCLE_PERIOD). */
static void finish_call(swiftlet_lua *e, int status, swiftlet_buf *out) {
    lua_State *L = e->L;
    lua_State *co = e->co;
    if (status != 0) {
        swiftlet_buf m = {0};
        /* Where the error happened: the first Lua frame of the coroutine's stack (kept by
         * lua_resume on error). */
        const char *source = "?";
        int line = -1;
        lua_Debug ar;
        for (int level = 0; lua_getstack(co, level, &ar); level++) {
            lua_getinfo(co, "Sl", &ar);
            if (ar.what[0] != 'C' && strcmp(ar.source, "=pcall") != 0) {
                source = ar.source;
                line = ar.currentline;
                break;
            }
        }
        const char *err = NULL;
        size_t elen = 0;
        if (lua_istable(co, -1)) {
            /* Raw: an error table's metatable must not run here, outside any protection. */
            lua_pushstring(co, "err");
            lua_rawget(co, -2);
            err = lua_tolstring(co, -1, &elen);
            if (err) swiftlet_buf_append(&m, err, elen);
            lua_pushstring(co, "ignore_error_stats_update");
            lua_rawget(co, -3);
            e->reply_error_counted = lua_toboolean(co, -1);
            lua_pop(co, 1);
        } else {
            const char *msg = lua_tostring(co, -1);
            /* The kill's text already carries its code. */
            if (!(e->killed && msg && strcmp(msg, killed_message) == 0)) buf_str(&m, "ERR ");
            buf_str(&m, msg ? msg : "unknown error");
            err = msg;
        }
        if (!err && lua_istable(co, -2)) buf_str(&m, "ERR unknown error");
        char tail[64];
        snprintf(tail, sizeof(tail), ":%d.", line);
        buf_str(&m, " script: ");
        buf_str(&m, e->name);
        buf_str(&m, ", on ");
        buf_str(&m, source);
        if (line >= 0) buf_str(&m, tail); else buf_str(&m, ":?.");
        buf_line(out, '-', m.data, m.len);
        swiftlet_buf_free(&m);
    } else {
        /* The first value returned is the reply (a call with one result, as Redis makes). */
        if (lua_gettop(co) == 0) lua_pushnil(co);
        lua_settop(co, 1);
        reply_protected(co, out, e->client_resp3);
    }
    if (status == 0 && !e->idle) {
        lua_settop(co, 0);
        e->idle = co;
        e->idle_ref = e->co_ref;
    } else {
        /* A coroutine that raised an error is dead in Lua 5.1. */
        luaL_unref(L, LUA_REGISTRYINDEX, e->co_ref);
    }
    e->co = NULL;
    e->exec = NULL;
    e->ctx = NULL;
    lua_settop(L, 0);
    if (++e->gc_count >= 50) {
        lua_gc(L, LUA_GCSTEP, 50);
        e->gc_count = 0;
    }
}

/* Resumes the coroutine: 1 while it is suspended, else 0 with its reply in `out`. */
static int step(swiftlet_lua *e, int nargs, swiftlet_buf *out) {
    int status = lua_resume(e->co, nargs);
    if (status == LUA_YIELD) return 1;
    finish_call(e, status, out);
    return 0;
}

/* A coroutine with the callable on its stack, its hook installed. */
static void start_coroutine(swiftlet_lua *e, const char *name) {
    lua_State *L = e->L;
    if (e->idle) {
        e->co = e->idle;
        e->co_ref = e->idle_ref;
        e->idle = NULL;
    } else {
        e->co = lua_newthread(L);
        e->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_sethook(e->co, count_hook, LUA_MASKCOUNT, 100000);
    }
    size_t n = strlen(name);
    if (n >= sizeof(e->name)) n = sizeof(e->name) - 1;
    memcpy(e->name, name, n);
    e->name[n] = 0;
    e->started_ms = now_ms();
    e->killed = 0;
}

static void begin_run(swiftlet_lua *e, int client_resp3, swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx) {
    e->exec = exec;
    e->log = log;
    e->ctx = ctx;
    e->resp = 2;
    e->client_resp3 = client_resp3;
    e->reply_error_counted = 0;
}

int swiftlet_lua_reply_error_counted(swiftlet_lua *e) { return e->reply_error_counted; }

int swiftlet_lua_run(swiftlet_lua *e, const char *sha, int nkeys, const char **keys, const size_t *key_lens,
                     int nargs, const char **args, const size_t *arg_lens, int client_resp3,
                     swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx, swiftlet_buf *out) {
    lua_State *L = e->L;
    begin_run(e, client_resp3, exec, log, ctx);
    set_global_array(e, e->keys_name_ref, nkeys, keys, key_lens);
    set_global_array(e, e->argv_name_ref, nargs, args, arg_lens);
    if (e->last_fn_ref != LUA_NOREF && strcmp(e->last_sha, sha) == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->last_fn_ref);
    } else {
        push_scripts(L);
        lua_getfield(L, -1, sha);
        if (!lua_isfunction(L, -1)) {
            lua_settop(L, 0);
            buf_str(out, "-NOSCRIPT No matching script. Please use EVAL.\r\n");
            return 0;
        }
        if (strlen(sha) < sizeof(e->last_sha)) {
            luaL_unref(L, LUA_REGISTRYINDEX, e->last_fn_ref);
            lua_pushvalue(L, -1);
            e->last_fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            strcpy(e->last_sha, sha);
        }
    }
    start_coroutine(e, sha);
    lua_xmove(L, e->co, 1); /* the script's function */
    lua_settop(L, 0);
    return step(e, 0, out);
}

int swiftlet_lua_fcall(swiftlet_lua *e, const char *name, int nkeys, const char **keys, const size_t *key_lens,
                       int nargs, const char **args, const size_t *arg_lens, int client_resp3,
                       swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx, swiftlet_buf *out) {
    lua_State *L = e->L;
    begin_run(e, client_resp3, exec, log, ctx);
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_functions");
    lua_getfield(L, -1, name);
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, 0);
        buf_str(out, "-ERR Function not found\r\n");
        return 0;
    }
    start_coroutine(e, name);
    lua_pushvalue(L, -1); /* the function, then its two parameters */
    push_string_array(L, nkeys, keys, key_lens);
    push_string_array(L, nargs, args, arg_lens);
    lua_xmove(L, e->co, 3);
    lua_settop(L, 0);
    return step(e, 2, out);
}

int swiftlet_lua_resume(swiftlet_lua *e, swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx,
                        swiftlet_buf *out) {
    e->exec = exec;
    e->log = log;
    e->ctx = ctx;
    return step(e, 0, out);
}

void swiftlet_lua_kill(swiftlet_lua *e) { e->killed = 1; }

void swiftlet_lua_set_busy_threshold(swiftlet_lua *e, long long ms) { e->busy_ms = ms; }



size_t swiftlet_lua_memory(swiftlet_lua *e) {
    return (size_t)lua_gc(e->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(e->L, LUA_GCCOUNTB, 0);
}

/* ---- functions (FUNCTION LOAD, FCALL) ---- */

static const char *function_flags[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys", NULL};

static int raise_msg(lua_State *L, const char *msg) {
    push_error_table(L, msg, strlen(msg));
    return lua_error(L);
}

static int valid_name(const char *s, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

/* redis.register_function(name, callback) or redis.register_function{function_name=…,
 * callback=…, flags={…}, description=…}: the registration goes to the pending table. */
static int redis_register_function(lua_State *L) {
    /* A callback that kept the load-time table could call it later: Redis checks too. */
    if (!engine_of(L)->loading) return raise_msg(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2) return raise_msg(L, "wrong number of arguments to redis.register_function");
    int name_idx = 0, cb_idx = 0, desc_idx = 0, flags_idx = 0;
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return raise_msg(L, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) return raise_msg(L, "named argument key given to redis.register_function is not a string");
            const char *key = lua_tostring(L, -2);
            if (!strcmp(key, "function_name")) {
                if (lua_type(L, -1) != LUA_TSTRING) return raise_msg(L, "function_name argument given to redis.register_function must be a string");
                name_idx = lua_gettop(L);
            } else if (!strcmp(key, "description")) {
                if (lua_type(L, -1) != LUA_TSTRING) return raise_msg(L, "description argument given to redis.register_function must be a string");
                desc_idx = lua_gettop(L);
            } else if (!strcmp(key, "callback")) {
                if (!lua_isfunction(L, -1)) return raise_msg(L, "callback argument given to redis.register_function must be a function");
                cb_idx = lua_gettop(L);
            } else if (!strcmp(key, "flags")) {
                if (!lua_istable(L, -1)) return raise_msg(L, "flags argument to redis.register_function must be a table representing function flags");
                flags_idx = lua_gettop(L);
            } else {
                return raise_msg(L, "unknown argument given to redis.register_function");
            }
            /* Keep the value on the stack (its index is recorded); push the key again. */
            lua_pushvalue(L, -2);
        }
        if (!name_idx) return raise_msg(L, "redis.register_function must get a function name argument");
        if (!cb_idx) return raise_msg(L, "redis.register_function must get a callback argument");
    } else {
        if (!lua_isstring(L, 1)) return raise_msg(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2)) return raise_msg(L, "second argument to redis.register_function must be a function");
        name_idx = 1;
        cb_idx = 2;
    }
    size_t name_len;
    const char *name = lua_tolstring(L, name_idx, &name_len);
    if (!valid_name(name, name_len))
        return raise_msg(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    /* The flags, checked. */
    lua_newtable(L);
    int flags_out = lua_gettop(L);
    if (flags_idx) {
        int n = 0;
        lua_pushnil(L);
        while (lua_next(L, flags_idx)) {
            const char *flag = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int known = 0;
            for (int i = 0; flag && function_flags[i]; i++)
                if (!strcmp(flag, function_flags[i])) known = 1;
            if (!known) return raise_msg(L, "unknown flag given");
            lua_pushvalue(L, -1);
            lua_rawseti(L, flags_out, ++n);
            lua_pop(L, 1);
        }
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_pending");
    int pending = lua_gettop(L);
    size_t count = lua_objlen(L, pending);
    for (size_t i = 1; i <= count; i++) {
        lua_rawgeti(L, pending, (int)i);
        lua_getfield(L, -1, "name");
        int same = !strcmp(lua_tostring(L, -1), name);
        lua_pop(L, 2);
        if (same) return raise_msg(L, "Function already exists in the library");
    }
    lua_newtable(L);
    lua_pushvalue(L, name_idx);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, cb_idx);
    lua_setfield(L, -2, "callback");
    lua_pushvalue(L, flags_out);
    lua_setfield(L, -2, "flags");
    if (desc_idx) {
        lua_pushvalue(L, desc_idx);
        lua_setfield(L, -2, "description");
    }
    lua_rawseti(L, pending, (int)count + 1);
    return 0;
}

/* The `redis` table a library sees while it loads: register_function, log and the version
 * fields only (as Redis's library API table). */
static void push_load_time_redis(lua_State *L) {
    lua_newtable(L);
    set_function(L, "register_function", redis_register_function);
    set_function(L, "log", redis_log);
    set_log_and_version(L);
    /* Reads of anything else fail as a missing global does. */
    int t = lua_gettop(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcclosure(L, sandbox_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sandbox_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, t);
    push_readonly_proxy(L, t);
    lua_remove(L, t);
}

static void load_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    swiftlet_lua *e = engine_of(L);
    if (now_ms() - e->load_started_ms > 500) {
        luaL_error(L, "FUNCTION LOAD timeout");
    }
}

int swiftlet_lua_library_load(swiftlet_lua *e, const char *code, size_t len, size_t skip, swiftlet_buf *functions,
                              swiftlet_buf *error) {
    lua_State *L = e->L;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_pending");
    if (luaL_loadbuffer(L, code + skip, len - skip, "@user_function") != 0) {
        compile_error(L, "ERR Error compiling function: ", error);
        return -1;
    }
    int chunk = lua_gettop(L);
    /* Swap the load-time redis table in for the load. */
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_globals");
    int globals = lua_gettop(L);
    lua_getfield(L, globals, "redis");
    int saved = lua_gettop(L);
    push_load_time_redis(L);
    lua_setfield(L, globals, "redis");
    /* While the library's code runs, globals resolve to the load-time API alone (Redis
     * points the globals' __index at its library API table): no math, no redis.call. */
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    int meta = lua_gettop(L);
    lua_getfield(L, meta, "__index");
    int run_index = lua_gettop(L);
    lua_newtable(L);
    lua_getfield(L, globals, "redis");
    lua_setfield(L, -2, "redis");
    lua_pushcclosure(L, sandbox_index, 1);
    lua_setfield(L, meta, "__index");
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_err_handler");
    lua_pushvalue(L, chunk);
    e->exec = NULL;
    /* A library whose code never ends is stopped (Redis's 500 ms load timeout). */
    e->loading = 1;
    e->load_started_ms = now_ms();
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int status = lua_pcall(L, 0, 0, lua_gettop(L) - 1);
    lua_sethook(L, NULL, 0, 0);
    e->loading = 0;
    lua_pushvalue(L, run_index);
    lua_setfield(L, meta, "__index");
    lua_pushvalue(L, saved);
    lua_setfield(L, globals, "redis");
    if (status != 0) {
        swiftlet_buf m = {0};
        buf_str(&m, "ERR Error registering functions: ");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            size_t elen;
            const char *err = lua_tolstring(L, -1, &elen);
            swiftlet_buf_append(&m, err ? err : "", err ? elen : 0);
        } else {
            const char *err = lua_tostring(L, -1);
            buf_str(&m, err ? err : "unknown error");
        }
        buf_line(error, '-', m.data, m.len);
        swiftlet_buf_free(&m);
        lua_settop(L, 0);
        return -1;
    }
    /* The registrations, as RESP: [name, description or null, [flags…]] each. */
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_pending");
    int pending = lua_gettop(L);
    size_t count = lua_objlen(L, pending);
    buf_fmt_len(functions, '*', (long long)count);
    for (size_t i = 1; i <= count; i++) {
        lua_rawgeti(L, pending, (int)i);
        buf_str(functions, "*3\r\n");
        lua_getfield(L, -1, "name");
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        buf_bulk(functions, s, n);
        lua_pop(L, 1);
        lua_getfield(L, -1, "description");
        if (lua_isstring(L, -1)) {
            s = lua_tolstring(L, -1, &n);
            buf_bulk(functions, s, n);
        } else {
            buf_str(functions, "$-1\r\n");
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "flags");
        size_t nf = lua_objlen(L, -1);
        buf_fmt_len(functions, '*', (long long)nf);
        for (size_t j = 1; j <= nf; j++) {
            lua_rawgeti(L, -1, (int)j);
            s = lua_tolstring(L, -1, &n);
            buf_bulk(functions, s, n);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    lua_settop(L, 0);
    return 0;
}

void swiftlet_lua_library_commit(swiftlet_lua *e) {
    lua_State *L = e->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_functions");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "__swiftlet_functions");
    }
    int functions = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_pending");
    size_t count = lua_objlen(L, -1);
    for (size_t i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, (int)i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "callback");
        lua_settable(L, functions);
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
}

void swiftlet_lua_function_remove(swiftlet_lua *e, const char *name) {
    lua_State *L = e->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "__swiftlet_functions");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, name);
    }
    lua_settop(L, 0);
}
