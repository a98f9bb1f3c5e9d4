#include "csupport.h"
#include <malloc.h>

size_t swiftlet_allocated_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

int swiftlet_malloc_trim(void) {
    return malloc_trim(0);
}
