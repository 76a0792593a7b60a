/*
 * grpc_frame.c — the gRPC message deframer and prefix encoder (see grpc_frame.h).
 */
#include "nacos_mock/grpc_frame.h"

#include <stdlib.h>
#include <string.h>

/* A gathering buffer larger than this is released once its message has been handed out, so a
 * long-lived stream does not keep its largest message's memory. */
#define KEEP_BUFFER_MAX ((size_t)64 << 10)
#define FIRST_BUFFER ((size_t)4 << 10)

void grpc_deframer_init(struct grpc_deframer *d, size_t cap)
{
    memset(d, 0, sizeof *d);
    d->cap = cap;
}

void grpc_deframer_free(struct grpc_deframer *d)
{
    free(d->buf);
    d->buf = NULL;
    d->len = d->alloc = 0;
    d->handed_out = false;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Room for `want` bytes in the gathering buffer: doubles, but never past the message's length. */
static int reserve(struct grpc_deframer *d, size_t want)
{
    if (want <= d->alloc) return 0;
    size_t next = d->alloc ? d->alloc * 2 : FIRST_BUFFER;
    if (next < want) next = want;
    next = min_size(next, d->need);
    uint8_t *nb = realloc(d->buf, next);
    if (!nb) return -1;
    d->buf = nb;
    d->alloc = next;
    return 0;
}

static void advance(const uint8_t **p, size_t *n, size_t k)
{
    if (!k) return;   /* *p may be NULL with nothing left */
    *p += k;
    *n -= k;
}

static int fail(struct grpc_deframer *d, int err)
{
    d->err = err;
    return err;
}

int grpc_deframer_next(struct grpc_deframer *d, const uint8_t **p, size_t *n, const uint8_t **msg, size_t *len)
{
    if (d->err) return d->err;
    if (d->handed_out) {   /* the caller is done with the message returned last time */
        d->handed_out = false;
        d->len = 0;
        if (d->alloc > KEEP_BUFFER_MAX) grpc_deframer_free(d);
    }
    if (d->prefix_len < GRPC_FRAME_PREFIX) {
        if (*n == 0) return 0;
        size_t take = min_size(GRPC_FRAME_PREFIX - d->prefix_len, *n);
        memcpy(d->prefix + d->prefix_len, *p, take);
        d->prefix_len += take;
        advance(p, n, take);
        if (d->prefix_len < GRPC_FRAME_PREFIX) return 0;
        if (d->prefix[0] == 1) return fail(d, GRPC_FRAME_COMPRESSED);
        if (d->prefix[0] != 0) return fail(d, GRPC_FRAME_BAD_FLAG);
        d->need = (size_t)d->prefix[1] << 24 | (size_t)d->prefix[2] << 16 | (size_t)d->prefix[3] << 8 | d->prefix[4];
        if (d->need > d->cap) return fail(d, GRPC_FRAME_TOO_LARGE);
        d->len = 0;
    }
    if (d->len == 0 && *n >= d->need) {   /* whole inside this chunk: hand it out in place */
        *msg = d->need ? *p : (const uint8_t *)"";
        *len = d->need;
        advance(p, n, d->need);
        d->prefix_len = 0;
        return 1;
    }
    size_t take = min_size(d->need - d->len, *n);
    if (take == 0) return 0;
    if (reserve(d, d->len + take)) return fail(d, GRPC_FRAME_NOMEM);
    memcpy(d->buf + d->len, *p, take);
    d->len += take;
    advance(p, n, take);
    if (d->len < d->need) return 0;
    *msg = d->buf;
    *len = d->need;
    d->prefix_len = 0;
    d->handed_out = true;
    return 1;
}

bool grpc_deframer_partial(const struct grpc_deframer *d)
{
    return d->prefix_len > 0;
}

size_t grpc_deframer_held(const struct grpc_deframer *d)
{
    return d->alloc;
}

const char *grpc_frame_strerror(int err)
{
    switch (err) {
    case GRPC_FRAME_OK: return "ok";
    case GRPC_FRAME_COMPRESSED: return "compressed";
    case GRPC_FRAME_BAD_FLAG: return "bad compressed flag";
    case GRPC_FRAME_TOO_LARGE: return "too large";
    case GRPC_FRAME_NOMEM: return "out of memory";
    default: return "unknown error";
    }
}

void grpc_frame_prefix(uint8_t out[GRPC_FRAME_PREFIX], size_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

uint8_t *grpc_frame_encode(const uint8_t *msg, size_t len, size_t *out_len)
{
    if (len > UINT32_MAX) return NULL;
    uint8_t *out = malloc(len + GRPC_FRAME_PREFIX);
    if (!out) return NULL;
    grpc_frame_prefix(out, len);
    if (len) memcpy(out + GRPC_FRAME_PREFIX, msg, len);
    *out_len = len + GRPC_FRAME_PREFIX;
    return out;
}
