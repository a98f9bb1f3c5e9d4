/* cmsgpack for Lua scripts, with the API and encoding choices of the lua-cmsgpack library
 * Redis embeds (Debian ships no package of it): pack(...) encodes each argument and joins
 * them; unpack(s) returns every object in s; unpack_one(s [, offset]) and
 * unpack_limit(s, limit [, offset]) return the next offset (-1 at the end) first. */
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A plain growing buffer: Lua's luaL_Buffer cannot share the stack with the values being
 * encoded. */
typedef struct {
    char *data;
    size_t len, cap;
} mpbuf;

#define MAX_NESTING 16

/* ---- encoding ---- */

static void put(mpbuf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_be(mpbuf *b, unsigned char type, uint64_t v, int bytes) {
    unsigned char out[9];
    out[0] = type;
    for (int i = 0; i < bytes; i++) out[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(b, out, (size_t)bytes + 1);
}

static void encode_int(mpbuf *b, int64_t n) {
    if (n >= 0) {
        if (n <= 127) {
            unsigned char c = (unsigned char)n;
            put(b, &c, 1);
        } else if (n <= 0xff) put_be(b, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff) put_be(b, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL) put_be(b, 0xce, (uint64_t)n, 4);
        else put_be(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32) {
            unsigned char c = (unsigned char)(int8_t)n;
            put(b, &c, 1);
        } else if (n >= -128) put_be(b, 0xd0, (uint64_t)n, 1);
        else if (n >= -32768) put_be(b, 0xd1, (uint64_t)n, 2);
        else if (n >= -2147483648LL) put_be(b, 0xd2, (uint64_t)n, 4);
        else put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void encode_double(mpbuf *b, double d) {
    float f = (float)d;
    if (d == (double)f) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_be(b, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_be(b, 0xcb, bits, 8);
    }
}

static void encode_bytes(mpbuf *b, const char *s, size_t len) {
    if (len < 32) {
        unsigned char c = (unsigned char)(0xa0 | len);
        put(b, &c, 1);
    } else if (len <= 0xff) put_be(b, 0xd9, len, 1);
    else if (len <= 0xffff) put_be(b, 0xda, len, 2);
    else put_be(b, 0xdb, len, 4);
    put(b, s, len);
}

/* lua-cmsgpack's table_is_an_array: keys exactly 1..n. */
static int table_is_array(lua_State *L) {
    long count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number n = lua_tonumber(L, -1);
            if (n > 0 && floor(n) == n) {
                if ((long)n > max) max = (long)n;
                count++;
                continue;
            }
        }
        lua_pop(L, 1);
        return 0;
    }
    return max == count;
}

static void encode_value(lua_State *L, mpbuf *b, int level);

static void encode_table(lua_State *L, mpbuf *b, int level) {
    if (table_is_array(L)) {
        size_t n = lua_objlen(L, -1);
        if (n <= 15) {
            unsigned char c = (unsigned char)(0x90 | n);
            put(b, &c, 1);
        } else if (n <= 0xffff) put_be(b, 0xdc, n, 2);
        else put_be(b, 0xdd, n, 4);
        for (size_t j = 1; j <= n; j++) {
            lua_rawgeti(L, -1, (int)j);
            encode_value(L, b, level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n <= 15) {
        unsigned char c = (unsigned char)(0x80 | n);
        put(b, &c, 1);
    } else if (n <= 0xffff) put_be(b, 0xde, n, 2);
    else put_be(b, 0xdf, n, 4);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        encode_value(L, b, level + 1);
        lua_pop(L, 1);
        encode_value(L, b, level + 1);
        lua_pop(L, 1);
    }
}

/* Encodes the value on top of the stack (left in place). */
static void encode_value(lua_State *L, mpbuf *b, int level) {
    unsigned char c;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        encode_bytes(b, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        c = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        put(b, &c, 1);
        break;
    case LUA_TNUMBER: {
        lua_Number n = lua_tonumber(L, -1);
        if (!isinf(n) && !isnan(n) && floor(n) == n && n >= -9223372036854775808.0 && n < 9223372036854775808.0)
            encode_int(b, (int64_t)n);
        else
            encode_double(b, n);
        break;
    }
    case LUA_TTABLE:
        if (level < MAX_NESTING && lua_checkstack(L, 6)) {
            encode_table(L, b, level);
            break;
        }
        /* fall through: too deep, nil */
    default:
        c = 0xc0;
        put(b, &c, 1);
        break;
    }
}

static int mp_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    mpbuf b = {0};
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, i);
        encode_value(L, &b, 0);
        lua_pop(L, 1);
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    free(b.data);
    return 1;
}

/* ---- decoding ---- */

typedef struct {
    const unsigned char *p;
    size_t left;
    int err; /* 0 ok, 1 missing bytes, 2 bad data */
} cursor;

static uint64_t take_be(cursor *c, int bytes) {
    if (c->left < (size_t)bytes) {
        c->err = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | c->p[i];
    c->p += bytes;
    c->left -= (size_t)bytes;
    return v;
}

static void decode_value(lua_State *L, cursor *c);

static void decode_bytes(lua_State *L, cursor *c, size_t len) {
    if (c->left < len) {
        c->err = 1;
        lua_pushnil(L);
        return;
    }
    lua_pushlstring(L, (const char *)c->p, len);
    c->p += len;
    c->left -= len;
}

static void decode_array(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 3, "too many nested items");
    lua_newtable(L);
    for (size_t i = 1; i <= n && !c->err; i++) {
        decode_value(L, c);
        lua_rawseti(L, -2, (int)i);
    }
}

static void decode_map(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 4, "too many nested items");
    lua_newtable(L);
    for (size_t i = 0; i < n && !c->err; i++) {
        decode_value(L, c);
        decode_value(L, c);
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2);
            continue;
        }
        lua_settable(L, -3);
    }
}

static void decode_value(lua_State *L, cursor *c) {
    if (c->left == 0) {
        c->err = 1;
        lua_pushnil(L);
        return;
    }
    unsigned char t = *c->p++;
    c->left--;
    if (t <= 0x7f) lua_pushnumber(L, t);
    else if (t >= 0xe0) lua_pushnumber(L, (int8_t)t);
    else if ((t & 0xe0) == 0xa0) decode_bytes(L, c, t & 0x1f);
    else if ((t & 0xf0) == 0x90) decode_array(L, c, t & 0x0f);
    else if ((t & 0xf0) == 0x80) decode_map(L, c, t & 0x0f);
    else switch (t) {
    case 0xc0: lua_pushnil(L); break;
    case 0xc2: lua_pushboolean(L, 0); break;
    case 0xc3: lua_pushboolean(L, 1); break;
    case 0xcc: lua_pushnumber(L, (lua_Number)take_be(c, 1)); break;
    case 0xcd: lua_pushnumber(L, (lua_Number)take_be(c, 2)); break;
    case 0xce: lua_pushnumber(L, (lua_Number)take_be(c, 4)); break;
    case 0xcf: lua_pushnumber(L, (lua_Number)take_be(c, 8)); break;
    case 0xd0: lua_pushnumber(L, (int8_t)take_be(c, 1)); break;
    case 0xd1: lua_pushnumber(L, (int16_t)take_be(c, 2)); break;
    case 0xd2: lua_pushnumber(L, (int32_t)take_be(c, 4)); break;
    case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)take_be(c, 8)); break;
    case 0xca: {
        uint32_t bits = (uint32_t)take_be(c, 4);
        float f;
        memcpy(&f, &bits, 4);
        lua_pushnumber(L, f);
        break;
    }
    case 0xcb: {
        uint64_t bits = take_be(c, 8);
        double d;
        memcpy(&d, &bits, 8);
        lua_pushnumber(L, d);
        break;
    }
    case 0xd9: case 0xc4: { size_t n = (size_t)take_be(c, 1); if (c->err) { lua_pushnil(L); break; } decode_bytes(L, c, n); break; }
    case 0xda: case 0xc5: { size_t n = (size_t)take_be(c, 2); if (c->err) { lua_pushnil(L); break; } decode_bytes(L, c, n); break; }
    case 0xdb: case 0xc6: { size_t n = (size_t)take_be(c, 4); if (c->err) { lua_pushnil(L); break; } decode_bytes(L, c, n); break; }
    case 0xdc: { size_t n = (size_t)take_be(c, 2); if (c->err) { lua_pushnil(L); break; } decode_array(L, c, n); break; }
    case 0xdd: { size_t n = (size_t)take_be(c, 4); if (c->err) { lua_pushnil(L); break; } decode_array(L, c, n); break; }
    case 0xde: { size_t n = (size_t)take_be(c, 2); if (c->err) { lua_pushnil(L); break; } decode_map(L, c, n); break; }
    case 0xdf: { size_t n = (size_t)take_be(c, 4); if (c->err) { lua_pushnil(L); break; } decode_map(L, c, n); break; }
    default:
        c->err = 2;
        lua_pushnil(L);
        break;
    }
}

/* Decodes up to `limit` objects (0: all) from `offset`; returns them after the next offset
 * when `with_offset`. */
static int unpack_full(lua_State *L, int limit, int offset, int with_offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (offset < 0 || (size_t)offset > len) return luaL_error(L, "Start offset %d greater than input length %d.", offset, (int)len);
    cursor c = {(const unsigned char *)s + offset, len - (size_t)offset, 0};
    int base = lua_gettop(L);
    if (with_offset) lua_pushnil(L); /* placeholder for the offset */
    int count = 0;
    while (c.left > 0 && (limit == 0 || count < limit)) {
        if (!lua_checkstack(L, 2)) return luaL_error(L, "Too many items on the stack");
        decode_value(L, &c);
        if (c.err == 1) return luaL_error(L, "Missing bytes in input.");
        if (c.err == 2) return luaL_error(L, "Bad data format in input.");
        count++;
    }
    if (with_offset) {
        lua_pushnumber(L, c.left == 0 ? -1 : (lua_Number)(len - c.left));
        lua_replace(L, base + 1);
    }
    return count + (with_offset ? 1 : 0);
}

static int mp_unpack(lua_State *L) { return unpack_full(L, 0, 0, 0); }

static int mp_unpack_one(lua_State *L) {
    int offset = (int)luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return unpack_full(L, 1, offset, 1);
}

static int mp_unpack_limit(lua_State *L) {
    int limit = (int)luaL_checkinteger(L, 2);
    int offset = (int)luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_full(L, limit, offset, 1);
}

int swiftlet_luaopen_cmsgpack(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, mp_pack);
    lua_setfield(L, -2, "pack");
    lua_pushcfunction(L, mp_unpack);
    lua_setfield(L, -2, "unpack");
    lua_pushcfunction(L, mp_unpack_one);
    lua_setfield(L, -2, "unpack_one");
    lua_pushcfunction(L, mp_unpack_limit);
    lua_setfield(L, -2, "unpack_limit");
    lua_pushstring(L, "lua-cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushstring(L, "0.4.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
