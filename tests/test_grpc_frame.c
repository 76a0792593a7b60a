/*
 * test_grpc_frame.c — unit tests of server/grpc_frame.c, the gRPC message deframer and prefix
 * encoder: one stream of framed messages fed whole, byte by byte, in every split and in random
 * chunks gives the same messages; several messages in one chunk; a message spanning chunks;
 * empty messages; the compressed flag and other flags refused; a length above the cap refused as
 * soon as the prefix is read, with nothing buffered; errors are sticky; a partial message is seen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/grpc_frame.h"

struct stream_buf {
    uint8_t *p;
    size_t n;
};

/* Appends a framed message of len bytes (byte i = seed + i). */
static void add_msg(struct stream_buf *b, size_t len, uint8_t seed)
{
    b->p = realloc(b->p, b->n + GRPC_FRAME_PREFIX + len);
    assert_non_null(b->p);
    grpc_frame_prefix(b->p + b->n, len);
    for (size_t i = 0; i < len; i++) b->p[b->n + GRPC_FRAME_PREFIX + i] = (uint8_t)(seed + i);
    b->n += GRPC_FRAME_PREFIX + len;
}

struct seen {
    size_t count;
    size_t lens[64];
    uint8_t firsts[64], lasts[64];
};

/* Feeds `b` in chunks given by next_chunk and records every message. Returns the last result. */
static int feed_all(const struct stream_buf *b, size_t cap, size_t (*next_chunk)(size_t at, void *arg), void *arg,
                    struct seen *out)
{
    struct grpc_deframer d;
    grpc_deframer_init(&d, cap);
    memset(out, 0, sizeof *out);
    size_t at = 0;
    int r = 0;
    while (at < b->n) {
        size_t k = next_chunk(at, arg);
        if (k > b->n - at) k = b->n - at;
        /* each chunk in its own allocation, freed after it is fed: a message handed out in place
         * must not be used later (ASan would see it) */
        uint8_t *chunk = malloc(k ? k : 1);
        memcpy(chunk, b->p + at, k);
        const uint8_t *p = chunk;
        size_t n = k;
        for (;;) {
            const uint8_t *msg;
            size_t len;
            r = grpc_deframer_next(&d, &p, &n, &msg, &len);
            if (r <= 0) break;
            assert_true(out->count < 64);
            out->lens[out->count] = len;
            out->firsts[out->count] = len ? msg[0] : 0;
            out->lasts[out->count] = len ? msg[len - 1] : 0;
            out->count++;
        }
        free(chunk);
        if (r < 0) break;
        assert_int_equal(n, 0);
        at += k;
    }
    grpc_deframer_free(&d);
    return r;
}

static size_t chunk_whole(size_t at, void *arg) { (void)at; (void)arg; return SIZE_MAX; }
static size_t chunk_one(size_t at, void *arg) { (void)at; (void)arg; return 1; }
static size_t chunk_fixed(size_t at, void *arg) { (void)at; return *(size_t *)arg; }

static size_t chunk_random(size_t at, void *arg)
{
    (void)at;
    uint32_t *s = arg;
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return 1 + *s % 300;
}

static void check_seen(const struct seen *s, const size_t *lens, const uint8_t *seeds, size_t n)
{
    assert_int_equal(s->count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s->lens[i], lens[i]);
        if (lens[i]) {
            assert_int_equal(s->firsts[i], seeds[i]);
            assert_int_equal(s->lasts[i], (uint8_t)(seeds[i] + lens[i] - 1));
        }
    }
}

static const size_t LENS[] = {3, 0, 1, 200, 5, 70000, 0, 17};
static const uint8_t SEEDS[] = {1, 0, 9, 30, 77, 5, 0, 200};
#define NMSG (sizeof LENS / sizeof LENS[0])

static struct stream_buf sample(void)
{
    struct stream_buf b = {0};
    for (size_t i = 0; i < NMSG; i++) add_msg(&b, LENS[i], SEEDS[i]);
    return b;
}

static void test_merged_in_one_chunk(void **state)
{
    (void)state;
    struct stream_buf b = sample();
    struct seen s;
    assert_int_equal(feed_all(&b, GRPC_MESSAGE_MAX, chunk_whole, NULL, &s), 0);
    check_seen(&s, LENS, SEEDS, NMSG);
    free(b.p);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    struct stream_buf b = sample();
    struct seen s;
    assert_int_equal(feed_all(&b, GRPC_MESSAGE_MAX, chunk_one, NULL, &s), 0);
    check_seen(&s, LENS, SEEDS, NMSG);
    free(b.p);
}

static void test_every_fixed_split(void **state)
{
    (void)state;
    struct stream_buf b = {0};
    for (size_t i = 0; i < 5; i++) add_msg(&b, LENS[i], SEEDS[i]);   /* small messages: all chunk sizes */
    struct seen s;
    for (size_t k = 1; k <= b.n; k++) {
        assert_int_equal(feed_all(&b, GRPC_MESSAGE_MAX, chunk_fixed, &k, &s), 0);
        check_seen(&s, LENS, SEEDS, 5);
    }
    free(b.p);
}

static void test_random_chunks(void **state)
{
    (void)state;
    struct stream_buf b = sample();
    struct seen s;
    for (uint32_t seed = 1; seed < 200; seed++) {
        uint32_t st = seed * 2654435761u;
        assert_int_equal(feed_all(&b, GRPC_MESSAGE_MAX, chunk_random, &st, &s), 0);
        check_seen(&s, LENS, SEEDS, NMSG);
    }
    free(b.p);
}

static void test_message_in_place_when_whole(void **state)
{
    (void)state;
    struct stream_buf b = {0};
    add_msg(&b, 10, 1);
    struct grpc_deframer d;
    grpc_deframer_init(&d, 100);
    const uint8_t *p = b.p, *msg;
    size_t n = b.n, len;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 1);
    assert_ptr_equal(msg, b.p + GRPC_FRAME_PREFIX);   /* no copy */
    assert_int_equal(grpc_deframer_held(&d), 0);
    assert_false(grpc_deframer_partial(&d));
    grpc_deframer_free(&d);
    free(b.p);
}

static void test_partial_and_held(void **state)
{
    (void)state;
    struct stream_buf b = {0};
    add_msg(&b, 100000, 3);
    struct grpc_deframer d;
    grpc_deframer_init(&d, GRPC_MESSAGE_MAX);
    const uint8_t *p = b.p, *msg;
    size_t n = 3, len;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 0);   /* half a prefix */
    assert_true(grpc_deframer_partial(&d));
    n = 1000;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 0);
    assert_true(grpc_deframer_partial(&d));
    size_t held = grpc_deframer_held(&d);
    assert_true(held >= 998 && held < 100000);   /* grown with what arrived, not to the claimed length */
    n = b.n - 1003;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 1);
    assert_int_equal(len, 100000);
    assert_int_equal(msg[99999], (uint8_t)(3 + 99999));
    assert_false(grpc_deframer_partial(&d));
    /* the big gathering buffer goes once the caller is done with the message */
    n = 0;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 0);
    assert_int_equal(grpc_deframer_held(&d), 0);
    grpc_deframer_free(&d);
    free(b.p);
}

static void test_compressed_refused(void **state)
{
    (void)state;
    uint8_t in[8] = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
    struct grpc_deframer d;
    grpc_deframer_init(&d, 100);
    const uint8_t *p = in, *msg;
    size_t n = sizeof in, len;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), GRPC_FRAME_COMPRESSED);
    assert_string_equal(grpc_frame_strerror(GRPC_FRAME_COMPRESSED), "compressed");
    /* sticky */
    uint8_t ok[6] = {0, 0, 0, 0, 1, 'x'};
    p = ok;
    n = sizeof ok;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), GRPC_FRAME_COMPRESSED);
    grpc_deframer_free(&d);

    uint8_t odd[5] = {2, 0, 0, 0, 0};
    grpc_deframer_init(&d, 100);
    p = odd;
    n = sizeof odd;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), GRPC_FRAME_BAD_FLAG);
    grpc_deframer_free(&d);
}

static void test_too_large_at_prefix(void **state)
{
    (void)state;
    /* 100 MB claimed: refused after the 5th byte, before any of the message */
    uint8_t pre[5];
    grpc_frame_prefix(pre, (size_t)100 << 20);
    struct grpc_deframer d;
    grpc_deframer_init(&d, GRPC_MESSAGE_MAX);
    const uint8_t *p = pre, *msg;
    size_t n = 4, len;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 0);
    n = 1;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), GRPC_FRAME_TOO_LARGE);
    assert_int_equal(grpc_deframer_held(&d), 0);
    assert_string_equal(grpc_frame_strerror(GRPC_FRAME_TOO_LARGE), "too large");
    grpc_deframer_free(&d);

    /* exactly the cap is fine, one more is not */
    grpc_deframer_init(&d, 10);
    grpc_frame_prefix(pre, 10);
    p = pre;
    n = 5;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), 0);
    grpc_deframer_free(&d);
    grpc_deframer_init(&d, 10);
    grpc_frame_prefix(pre, 11);
    p = pre;
    n = 5;
    assert_int_equal(grpc_deframer_next(&d, &p, &n, &msg, &len), GRPC_FRAME_TOO_LARGE);
    grpc_deframer_free(&d);
}

static void test_encode(void **state)
{
    (void)state;
    uint8_t pre[5];
    grpc_frame_prefix(pre, 0x01020304);
    const uint8_t want[5] = {0, 1, 2, 3, 4};
    assert_memory_equal(pre, want, 5);
    size_t n = 0;
    uint8_t *f = grpc_frame_encode((const uint8_t *)"hey", 3, &n);
    assert_non_null(f);
    assert_int_equal(n, 8);
    assert_memory_equal(f, "\0\0\0\0\3hey", 8);
    free(f);
    f = grpc_frame_encode(NULL, 0, &n);
    assert_non_null(f);
    assert_int_equal(n, 5);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merged_in_one_chunk),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_every_fixed_split),
        cmocka_unit_test(test_random_chunks),
        cmocka_unit_test(test_message_in_place_when_whole),
        cmocka_unit_test(test_partial_and_held),
        cmocka_unit_test(test_compressed_refused),
        cmocka_unit_test(test_too_large_at_prefix),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
