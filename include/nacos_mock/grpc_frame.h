/*
 * grpc_frame — gRPC length-prefixed message framing (the gRPC-over-HTTP/2 spec's
 * Length-Prefixed-Message): 1 byte compressed flag, 4 bytes big-endian length, then the message.
 * Pure: no library, no I/O, no threads.
 *
 * Owns: the deframer, a state machine fed the bytes of one HTTP/2 stream's DATA frames in chunks of
 * any size. A message may span many chunks and a chunk may hold many messages; a message that lies
 * whole inside one chunk is handed out in place (no copy), one that spans chunks is gathered into a
 * buffer the deframer owns, grown as its bytes arrive (never to the claimed length up front). A
 * claimed length above the deframer's cap is an error as soon as the 5-byte prefix is complete,
 * before any of the message is buffered; so is a compressed flag of 1 (this server negotiates no
 * grpc-encoding) or any other non-zero flag. After an error the deframer stays failed.
 *
 * Threading: a deframer belongs to its caller (the transport's loop thread); no shared state.
 */
#ifndef NACOS_MOCK_GRPC_FRAME_H
#define NACOS_MOCK_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_FRAME_PREFIX 5
/* The message cap of this server (grpc-api.md §1): larger messages end the call with grpc-status 8. */
#define GRPC_MESSAGE_MAX ((size_t)10 << 20)

enum grpc_frame_err {
    GRPC_FRAME_OK = 0,
    GRPC_FRAME_COMPRESSED = -1,   /* flag 1: compressed, and no grpc-encoding was negotiated */
    GRPC_FRAME_BAD_FLAG = -2,     /* flag other than 0 and 1 */
    GRPC_FRAME_TOO_LARGE = -3,    /* claimed length above the cap */
    GRPC_FRAME_NOMEM = -4,
};

struct grpc_deframer {
    size_t cap;            /* largest message accepted */
    uint8_t prefix[GRPC_FRAME_PREFIX];
    size_t prefix_len;     /* prefix bytes seen of the current message (0..5) */
    size_t need;           /* the current message's length, once its prefix is complete */
    uint8_t *buf;          /* gathered bytes of a message spanning chunks (owned) */
    size_t len, alloc;     /* bytes in buf, bytes allocated */
    bool handed_out;       /* buf holds the message returned by the last call */
    int err;               /* sticky enum grpc_frame_err */
};

void grpc_deframer_init(struct grpc_deframer *d, size_t cap);
/* Frees the buffer; the deframer may be initialised again. */
void grpc_deframer_free(struct grpc_deframer *d);

/*
 * Consumes bytes from *p (advancing *p and decreasing *n) until a message is complete or the input
 * is used up. Returns 1 with *msg and *len set to a complete message — valid until the next call on
 * this deframer or until the input chunk goes away, whichever is first (the caller copies it to keep
 * it) —, 0 when all input was consumed without completing one, or an enum grpc_frame_err (< 0; also
 * for every later call). Call it again with the rest of the chunk until it returns 0.
 */
int grpc_deframer_next(struct grpc_deframer *d, const uint8_t **p, size_t *n, const uint8_t **msg, size_t *len);

/* True when a message has been started but not completed (the stream must not end here). */
bool grpc_deframer_partial(const struct grpc_deframer *d);
/* Bytes the deframer holds in memory (its gathering buffer), for the caller's budgets. */
size_t grpc_deframer_held(const struct grpc_deframer *d);

/* "compressed", "too large", ... for an enum grpc_frame_err. */
const char *grpc_frame_strerror(int err);

/* Writes the prefix of an uncompressed message of len bytes (len <= UINT32_MAX). */
void grpc_frame_prefix(uint8_t out[GRPC_FRAME_PREFIX], size_t len);
/* prefix + message in one malloc'd buffer of len + 5 bytes (*out_len); NULL when out of memory or
 * len > UINT32_MAX. Caller frees. */
uint8_t *grpc_frame_encode(const uint8_t *msg, size_t len, size_t *out_len);

#endif
