/*
 * util — small helpers with no better home.
 */
#ifndef NACOS_MOCK_UTIL_H
#define NACOS_MOCK_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The whole file as a NUL-terminated heap string (caller frees), or NULL if it cannot be read. */
char *util_read_file(const char *path, size_t *len);
/* Makes room for element n of the array *v of *cap elements of `elem` bytes: when n == *cap,
 * doubles it (16 at first). 0 ok, -1 out of memory (the array is unchanged). */
int util_grow(void **v, size_t *cap, size_t n, size_t elem);
/* 64-bit FNV-1a of n bytes (hash tables of names and keys). */
uint64_t util_fnv1a(const void *p, size_t n);
/* The same continued over more bytes: a key of several fields hashes as
 * util_fnv1a_more(util_fnv1a_more(UTIL_FNV1A_BASIS, a, na), b, nb). */
#define UTIL_FNV1A_BASIS 1469598103934665603ull
uint64_t util_fnv1a_more(uint64_t h, const void *p, size_t n);
/* A faster hash for hash tables on hot paths (8 bytes a step): continued as util_fnv1a_more, from
 * any start value (0 will do). Not stable across versions: never store it. */
uint64_t util_hash_more(uint64_t h, const void *p, size_t n);

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or code points
 * past U+10FFFF) when at most n bytes are left, 0 when it is not one. A NUL ends any sequence, so
 * n = SIZE_MAX reads a NUL-terminated string safely. */
size_t util_utf8_seq(const unsigned char *s, size_t n);
/* A condition variable whose timed waits read CLOCK_MONOTONIC (a clock step never stretches them). */
void util_cond_init_monotonic(pthread_cond_t *c);

#endif
