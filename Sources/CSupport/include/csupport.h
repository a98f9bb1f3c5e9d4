#ifndef SWIFTLET_CSUPPORT_H
#define SWIFTLET_CSUPPORT_H
#include <stddef.h>

/// Bytes currently allocated through malloc: the usable sizes counted by the program's
/// malloc (allocator.c), like Redis's used_memory.
size_t swiftlet_allocated_bytes(void);
/// The counter alone (0 when the counting malloc is not the one in use).
size_t swiftlet_counted_bytes(void);
/// How many blocks this thread has allocated since it started (the benchmarks count them).
unsigned long long swiftlet_thread_allocations(void);
/// Returns freed memory to the system (malloc_trim).
int swiftlet_malloc_trim(void);
/// SHA-1 of `len` bytes at `data` into `out`.
void swiftlet_sha1(const void *data, size_t len, unsigned char out[20]);
/// SHA-256 of `len` bytes at `data` into `out` (ACL password hashes, as Redis's sha256.c).
void swiftlet_sha256(const void *data, size_t len, unsigned char out[32]);



/// Hints the CPU to load the cache line at `address` (no effect on results).
static inline void swiftlet_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
