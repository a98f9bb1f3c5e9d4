/* Memory accounting the way Redis's zmalloc keeps `used_memory`: every allocation's usable
 * size is added to a counter and every free subtracts it, so INFO and maxmemory read an
 * exact figure in constant time (glibc's mallinfo2 walks every free chunk instead).
 *
 * The program replaces malloc and friends, as glibc documents ("Replacing malloc"), with
 * thin wrappers around glibc's own allocator (__libc_malloc and friends): the allocator is
 * unchanged, only counted. Counters are spread over cache lines by thread, so threads do
 * not contend on one line. */
#define _GNU_SOURCE
#include "csupport.h"
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SWIFTLET_SANITIZED_MALLOC 1
#endif
#endif

#ifdef SWIFTLET_SANITIZED_MALLOC
/* Built with AddressSanitizer (the fuzzers, the sanitizer run of the unit tests): its
 * allocator owns malloc and free, so nothing is replaced; the count is ASan's own. */
#include <sanitizer/allocator_interface.h>

unsigned long long swiftlet_thread_allocations(void) { return 0; }

size_t swiftlet_counted_bytes(void) { return __sanitizer_get_current_allocated_bytes(); }

#else

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define SLOTS 64
static struct {
    _Atomic long long bytes;
    char pad[56];
} counters[SLOTS];
static _Atomic unsigned next_slot;
static __thread int my_slot = -1;
/* Allocations made by this thread (malloc, calloc, memalign, and a realloc that gets a new
 * block): the benchmarks' allocation count. This allocator replaces malloc for the whole
 * process, so a malloc interposer in front of it never sees a call. Thread-local, so the
 * count costs one unshared increment. */
static __thread unsigned long long my_allocations;

/* malloc_usable_size without the call: glibc keeps a chunk's size (with three flag bits)
 * in the word before it; an mmapped chunk (flag 2) has a two-word header, others one. */
static inline size_t usable(void *p) {
    size_t head = ((size_t *)p)[-1];
    size_t size = head & ~(size_t)7;
    return (head & 2) ? size - 2 * sizeof(size_t) : size - sizeof(size_t);
}

static inline void count(long long delta) {
    int s = my_slot;
    if (s < 0) s = my_slot = (int)(atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) % SLOTS);
    atomic_fetch_add_explicit(&counters[s].bytes, delta, memory_order_relaxed);
}

unsigned long long swiftlet_thread_allocations(void) { return my_allocations; }

size_t swiftlet_counted_bytes(void) {
    long long total = 0;
    for (int i = 0; i < SLOTS; i++) total += atomic_load_explicit(&counters[i].bytes, memory_order_relaxed);
    return total > 0 ? (size_t)total : 0;
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    my_allocations++;
    if (p) count((long long)usable(p));
    return p;
}

void free(void *p) {
    if (!p) return;
    count(-(long long)usable(p));
    __libc_free(p);
}

void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    my_allocations++;
    if (p) count((long long)usable(p));
    return p;
}

void *realloc(void *old, size_t n) {
    size_t before = old ? usable(old) : 0;
    void *p = __libc_realloc(old, n);
    if (p != old) my_allocations++;
    if (p) {
        count((long long)usable(p) - (long long)before);
    } else if (old && n == 0) {
        count(-(long long)before); /* realloc(p, 0) freed p */
    }
    return p;
}

void *memalign(size_t alignment, size_t n) {
    void *p = __libc_memalign(alignment, n);
    my_allocations++;
    if (p) count((long long)usable(p));
    return p;
}

void *aligned_alloc(size_t alignment, size_t n) { return memalign(alignment, n); }

int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n) { return memalign(4096, n); }

void *pvalloc(size_t n) { return memalign(4096, (n + 4095) & ~(size_t)4095); }

#endif /* SWIFTLET_SANITIZED_MALLOC */
