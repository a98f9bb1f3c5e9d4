#ifndef SWIFTLET_CSUPPORT_H
#define SWIFTLET_CSUPPORT_H
#include <stddef.h>

/// Bytes currently allocated through malloc (glibc's mallinfo2: in-use chunks + mmapped).
size_t swiftlet_allocated_bytes(void);
/// Returns freed memory to the system (malloc_trim).
int swiftlet_malloc_trim(void);



/// Hints the CPU to load the cache line at `address` (no effect on results).
static inline void swiftlet_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
