#ifndef SWIFTLET_LUA_ENGINE_H
#define SWIFTLET_LUA_ENGINE_H
#include <stddef.h>

/// Lua 5.1 (Debian's liblua5.1) as Redis embeds it: the sandboxed environment, the `redis`
/// library, the conversions between Lua values and RESP. Commands that scripts run go to
/// the server through `swiftlet_lua_exec_fn`, whose reply comes back as RESP bytes.
typedef struct swiftlet_lua swiftlet_lua;

/// A growable byte buffer (malloc'd; the owner frees `data`).
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} swiftlet_buf;

void swiftlet_buf_append(swiftlet_buf *b, const void *p, size_t n);
void swiftlet_buf_free(swiftlet_buf *b);
/// Empties a buffer kept between uses (redis.call's reply, a script's reply), freeing it
/// only when a big reply grew it past 64 KB.
void swiftlet_buf_reset(swiftlet_buf *b);

/// Runs one command for redis.call/pcall: `resp` is the protocol the script asked for (2 or
/// 3); the RESP reply goes into `reply`.
typedef void (*swiftlet_lua_exec_fn)(void *ctx, int argc, const char **argv, const size_t *lens, int resp,
                                     swiftlet_buf *reply);
/// redis.log(level, message).
typedef void (*swiftlet_lua_log_fn)(void *ctx, int level, const char *message, size_t len);

swiftlet_lua *swiftlet_lua_create(void);
void swiftlet_lua_destroy(swiftlet_lua *lua);
/// Whether the script with this SHA-1 (40 lowercase hex digits) is compiled.
int swiftlet_lua_has(swiftlet_lua *lua, const char *sha);
/// Compiles a script body as `sha`; 0 on success, else -1 with the error reply (RESP) in `out`.
int swiftlet_lua_compile(swiftlet_lua *lua, const char *sha, const char *body, size_t len, swiftlet_buf *out);
/// Runs script `sha` with KEYS and ARGV; its reply, as RESP for a RESP2 or RESP3 client, goes
/// into `out` (0). Past the busy threshold the script is suspended instead (1): continue it
/// with swiftlet_lua_resume.
int swiftlet_lua_run(swiftlet_lua *lua, const char *sha, int nkeys, const char **keys, const size_t *key_lens,
                      int nargs, const char **args, const size_t *arg_lens, int client_resp3,
                      swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx, swiftlet_buf *out);
/// Continues a suspended script for another slice: 0 when it finished (reply in `out`).
int swiftlet_lua_resume(swiftlet_lua *lua, swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx,
                        swiftlet_buf *out);
/// SCRIPT KILL / FUNCTION KILL: the running script ends with an error at its next check.
void swiftlet_lua_kill(swiftlet_lua *lua);
/// Whether the reply of the run that just ended is an error the server already counted
/// (a redis.call error passed on), so INFO errorstats must not count it again.
int swiftlet_lua_reply_error_counted(swiftlet_lua *lua);
/// busy-reply-threshold in milliseconds (0: scripts are never suspended).
void swiftlet_lua_set_busy_threshold(swiftlet_lua *lua, long long ms);
/// The Lua heap's bytes (INFO used_memory_lua).
size_t swiftlet_lua_memory(swiftlet_lua *lua);
/// Runs a function library's code (from `skip`, past its shebang line) with
/// redis.register_function available. On success its registrations are pending — described
/// in `functions` as RESP [[name, description|null, [flags]], …] — until
/// swiftlet_lua_library_commit; on failure the error reply is in `error` and -1 returned.
int swiftlet_lua_library_load(swiftlet_lua *lua, const char *code, size_t len, size_t skip, swiftlet_buf *functions,
                              swiftlet_buf *error);
/// Makes the pending registrations callable.
void swiftlet_lua_library_commit(swiftlet_lua *lua);
/// Forgets a function (its library was deleted or replaced).
void swiftlet_lua_function_remove(swiftlet_lua *lua, const char *name);
/// FCALL: runs function `name` with its keys and arguments as parameters (0 done, 1
/// suspended, as swiftlet_lua_run).
int swiftlet_lua_fcall(swiftlet_lua *lua, const char *name, int nkeys, const char **keys, const size_t *key_lens,
                        int nargs, const char **args, const size_t *arg_lens, int client_resp3,
                        swiftlet_lua_exec_fn exec, swiftlet_lua_log_fn log, void *ctx, swiftlet_buf *out);
/// SHA-1 of `len` bytes as 40 lowercase hex digits plus a NUL in `out`.
void swiftlet_sha1_hex(const void *data, size_t len, char out[41]);

#endif
