/*
 * md5 — RFC 1321 digests through nettle (already in the process: libmicrohttpd → gnutls → nettle).
 * Used for the `checksum` of instance lists, auth token signatures and config md5s.
 *
 * The streaming API is nettle's own (struct md5_ctx, md5_init, md5_update(ctx, length, data)); this
 * header adds the lowercase hex forms Nacos puts on the wire. Pure; any thread.
 */
#ifndef NACOS_MOCK_MD5_H
#define NACOS_MOCK_MD5_H

#include <stddef.h>
#include <nettle/md5.h>

/* Lowercase hex digest of the bytes hashed so far into out[33] (NUL-terminated); ctx is reset. */
void md5_hex_final(struct md5_ctx *ctx, char out[33]);
/* Lowercase hex MD5 of n bytes at p into out[33]. */
void md5_hex(const void *p, size_t n, char out[33]);

#endif
