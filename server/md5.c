/*
 * md5.c — hex MD5 digests on top of nettle (see md5.h).
 */
#include "nacos_mock/md5.h"

#include <stdint.h>

void md5_hex_final(struct md5_ctx *ctx, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[MD5_DIGEST_SIZE];
    md5_digest(ctx, sizeof d, d);
    for (int i = 0; i < MD5_DIGEST_SIZE; i++) {
        out[i * 2] = hex[d[i] >> 4];
        out[i * 2 + 1] = hex[d[i] & 15];
    }
    out[32] = '\0';
}

void md5_hex(const void *p, size_t n, char out[33])
{
    struct md5_ctx m;
    md5_init(&m);
    md5_update(&m, n, p);
    md5_hex_final(&m, out);
}
