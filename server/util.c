/*
 * util.c — see util.h.
 */
#include "nacos_mock/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *util_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    char buf[8192];
    size_t got;
    int ok = m != NULL;
    while (ok && (got = fread(buf, 1, sizeof buf, f)) > 0) ok = fwrite(buf, 1, got, m) == got;
    ok = !ferror(f) && ok;
    fclose(f);
    if (m) fclose(m);
    if (!ok) {
        free(text);
        return NULL;
    }
    if (len) *len = n;
    return text;
}

uint64_t util_fnv1a_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t util_fnv1a(const void *p, size_t n) { return util_fnv1a_more(UTIL_FNV1A_BASIS, p, n); }

int util_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, nc * elem);
    if (!nv) return -1;
    *v = nv;
    *cap = nc;
    return 0;
}

void util_cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}
