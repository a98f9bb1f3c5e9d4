/* struct for Lua scripts: the API of the `struct` library Redis embeds (Roberto
 * Ierusalimschy's lua-struct 0.2): struct.pack(fmt, ...), struct.unpack(fmt, s [, pos]),
 * struct.size(fmt). Formats: < > = (endianness), ![n] (alignment), x (pad), b B h H l L T
 * i[n] I[n] (integers), f d (floats), c[n] (fixed string, c0 = length from the previous
 * value when unpacking, the whole string when packing), s (zero-terminated), space. */
#include <ctype.h>
#include <limits.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAXINTSIZE 32
#define MAXALIGN 8

typedef struct {
    int little; /* byte order */
    int align;  /* maximum alignment */
} header;

static int is_little(void) {
    int one = 1;
    return *(char *)&one == 1;
}

static int read_number(const char **fmt, int def) {
    if (!isdigit((unsigned char)**fmt)) return def;
    int a = 0;
    do {
        a = a * 10 + (*((*fmt)++) - '0');
    } while (isdigit((unsigned char)**fmt) && a < (INT_MAX / 10 - 10));
    return a;
}

static size_t option_size(lua_State *L, char opt, const char **fmt) {
    switch (opt) {
    case 'B': case 'b': return 1;
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)read_number(fmt, 1);
    case 'i': case 'I': {
        int sz = read_number(fmt, sizeof(int));
        if (sz > MAXINTSIZE) luaL_error(L, "integral size %d is larger than limit of %d", sz, MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0; /* other cases do not need alignment */
    }
}

static int gettoalign(size_t len, header *h, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (int)((size - (len & (size - 1))) & (size - 1));
}

static void control_options(lua_State *L, int opt, const char **fmt, header *h) {
    switch (opt) {
    case ' ': return;
    case '>': h->little = 0; return;
    case '<': h->little = 1; return;
    case '=': h->little = is_little(); return;
    case '!': {
        int a = read_number(fmt, MAXALIGN);
        if (a & (a - 1)) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

static void put_integer(lua_State *L, luaL_Buffer *b, int arg, int little, int size) {
    lua_Number n = luaL_checknumber(L, arg);
    int negative = n < 0;
    unsigned long long value = negative ? (unsigned long long)(long long)n : (unsigned long long)n;
    char buff[MAXINTSIZE];
    for (int i = 0; i < size; i++) {
        char byte = i < 8 ? (char)((value >> (8 * i)) & 0xff) : (char)(negative ? 0xff : 0);
        buff[little ? i : size - 1 - i] = byte;
    }
    luaL_addlstring(b, buff, (size_t)size);
}

static void correct_bytes(char *b, int size, int endian) {
    if (endian != is_little()) {
        int i = 0;
        while (i < --size) {
            char temp = b[i];
            b[i++] = b[size];
            b[size] = temp;
        }
    }
}

static int b_pack(lua_State *L) {
    luaL_Buffer b;
    const char *fmt = luaL_checkstring(L, 1);
    header h = {is_little(), 1};
    int arg = 2;
    size_t totalsize = 0;
    lua_pushnil(L); /* mark to separate arguments from string buffer */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = option_size(L, (char)opt, &fmt);
        int toalign = gettoalign(totalsize, &h, opt, size);
        totalsize += (size_t)toalign;
        while (toalign-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            put_integer(L, &b, arg++, h.little, (int)size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            correct_bytes((char *)&f, (int)size, h.little);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            correct_bytes((char *)&d, (int)size, h.little);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            control_options(L, opt, &fmt, &h);
        }
        totalsize += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number get_integer(const char *buff, int little, int is_signed, int size) {
    unsigned long long l = 0;
    if (little) {
        for (int i = size - 1; i >= 0; i--) l = l << 8 | (unsigned char)buff[i];
    } else {
        for (int i = 0; i < size; i++) l = l << 8 | (unsigned char)buff[i];
    }
    if (!is_signed) return (lua_Number)l;
    if (size < (int)sizeof(l)) {
        unsigned long long mask = ~0ULL << (size * 8 - 1);
        if (l & mask) l |= mask; /* sign extension */
    }
    return (lua_Number)(long long)l;
}

static int b_unpack(lua_State *L) {
    header h = {is_little(), 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1) - 1;
    int n = 0;
    luaL_argcheck(L, pos <= ld, 3, "offset must be 1 or greater");
    lua_settop(L, 2);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = option_size(L, (char)opt, &fmt);
        pos += (size_t)gettoalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I': {
            int is_signed = islower(opt);
            lua_pushnumber(L, get_integer(data + pos, h.little, is_signed, (int)size));
            n++;
            break;
        }
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            correct_bytes((char *)&f, sizeof(f), h.little);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            correct_bytes((char *)&d, sizeof(d), h.little);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c': {
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        }
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (e == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos) + 1);
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            control_options(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1); /* next position */
    return n + 1;
}

static int b_size(lua_State *L) {
    header h = {is_little(), 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = option_size(L, (char)opt, &fmt);
        pos += (size_t)gettoalign(pos, &h, opt, size);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) control_options(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int swiftlet_luaopen_struct(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, b_pack);
    lua_setfield(L, -2, "pack");
    lua_pushcfunction(L, b_unpack);
    lua_setfield(L, -2, "unpack");
    lua_pushcfunction(L, b_size);
    lua_setfield(L, -2, "size");
    return 1;
}
