#ifndef SWIFTLET_CSUPPORT_H
#define SWIFTLET_CSUPPORT_H
#include <stddef.h>

/// Bytes currently allocated through malloc (glibc's mallinfo2: in-use chunks + mmapped).
size_t swiftlet_allocated_bytes(void);
/// Returns freed memory to the system (malloc_trim).
int swiftlet_malloc_trim(void);

#endif
