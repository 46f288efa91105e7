/* SPDX-License-Identifier: GPL-3.0-or-later */
/* array.h -- room for one more element in a growable array. */
#ifndef INSTAR_UTIL_ARRAY_H
#define INSTAR_UTIL_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ARR holds N elements of ELEM bytes in room for *CAP.  Returns ARR, or
 * when it is full a reallocation with twice the room (FIRST at first),
 * *CAP updated; NULL when memory runs out (ARR is then left as it was). */
static inline void *instar_array_room(void *arr, size_t n, size_t *cap, size_t elem,
                                      size_t first)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap < *cap || ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (p != NULL)
        *cap = ncap;
    return p;
}

#endif
