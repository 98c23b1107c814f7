/* The size rule of the public structs a program allocates (spate.h): each begins with a size_t
 * `size`, the size the program was built with, and grows only at its end. These two copies are
 * the whole rule, so every struct keeps it the same way: the library reads no further than the
 * program's size (what it does not hold keeps the library's default) and writes no further
 * either (what the program knows beyond the library's struct is zeroed). Face layer. */
#ifndef SPATE_SIZED_H
#define SPATE_SIZED_H
#include <stddef.h>
#include <string.h>

/* Fills the program's struct prog (prog_size bytes) from the library's ours (our_size bytes). */
static inline void spate_sized_out(void *prog, size_t prog_size, const void *ours, size_t our_size)
{
    memset(prog, 0, prog_size);
    memcpy(prog, ours, prog_size < our_size ? prog_size : our_size);
}

/* Lays the program's struct prog over full (our_size bytes, holding the defaults), as far as
 * prog's own size goes. Returns its size, or 0 when it was never set (less than the size field
 * itself): the caller refuses such a struct. */
static inline size_t spate_sized_in(void *full, size_t our_size, const void *prog)
{
    size_t size;
    memcpy(&size, prog, sizeof(size));
    if (size < sizeof(size)) return 0;
    memcpy(full, prog, size < our_size ? size : our_size);
    return size;
}

#endif
