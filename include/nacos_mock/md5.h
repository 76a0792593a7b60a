/* md5 — RFC 1321 digest, used only for the `checksum` field of instance lists. */
#ifndef NACOS_MOCK_MD5_H
#define NACOS_MOCK_MD5_H
#include <stddef.h>
#include <stdint.h>

struct md5_ctx { uint32_t a, b, c, d; uint64_t len; unsigned char buf[64]; };
void md5_init(struct md5_ctx *ctx);
void md5_update(struct md5_ctx *ctx, const void *data, size_t len);
void md5_final(struct md5_ctx *ctx, unsigned char out[16]);
/* Hex digest of the bytes so far into out[33] (NUL-terminated). */
void md5_hex_final(struct md5_ctx *ctx, char out[33]);
#endif
