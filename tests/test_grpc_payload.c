/*
 * test_grpc_payload.c — unit tests of server/grpc_payload.c against hand-written wire bytes (the
 * field numbers of grpc-api.md §1, so a wrong .proto cannot pass by round-tripping with itself):
 * a response encodes to exactly the expected bytes; round trips with headers, client ip, empty and
 * binary bodies; unknown fields of every wire type skipped at every level; missing metadata and
 * body; a Payload as the Rust client sends it (type_url set); repeated header keys; invalid bytes
 * refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/grpc_payload.h"

static void decode_ok(const uint8_t *b, size_t n, struct grpc_payload *p)
{
    char err[128] = "";
    if (grpc_payload_decode(b, n, p, err, sizeof err)) fail_msg("decode failed: %s", err);
}

static void test_response_bytes_exact(void **state)
{
    (void)state;
    size_t n = 0;
    uint8_t *b = grpc_payload_encode("T", "{}", 2, &n);
    /* Payload.metadata(2) {type(3) "T"}, Payload.body(3) {value(2) "{}"}; no type_url, no clientIp */
    const uint8_t want[] = {0x12, 0x03, 0x1a, 0x01, 'T', 0x1a, 0x04, 0x12, 0x02, '{', '}'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    free(b);

    /* empty type and body: both messages still present (the Rust client requires them) */
    b = grpc_payload_encode("", "", 0, &n);
    const uint8_t empty[] = {0x12, 0x00, 0x1a, 0x00};
    assert_int_equal(n, sizeof empty);
    assert_memory_equal(b, empty, sizeof empty);
    free(b);
}

/* grpc_payload_encode_parts writes what protobuf-c writes, byte for byte: empty and long types and
 * bodies (1-, 2- and 3-byte lengths), bodies in one part or split anywhere, empty parts. */
static void test_encode_parts_matches_protobuf_c(void **state)
{
    (void)state;
    static char body[70000], type[300];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof type; i++) type[i] = (char)('A' + i % 26);
    const size_t tlens[] = {0, 1, 19, 127, 128, 299};
    const size_t blens[] = {0, 1, 2, 126, 127, 128, 16383, 16384, 37637, 70000};
    for (size_t ti = 0; ti < sizeof tlens / sizeof tlens[0]; ti++) {
        for (size_t bi = 0; bi < sizeof blens / sizeof blens[0]; bi++) {
            char t[301];
            memcpy(t, type, tlens[ti]);
            t[tlens[ti]] = '\0';
            size_t bl = blens[bi], n1 = 0, n2 = 0, n3 = 0;
            uint8_t *want = grpc_payload_encode(t, body, bl, &n1);
            struct grpc_part one[] = {{body, bl}};
            uint8_t *got = grpc_payload_encode_parts(t, one, 1, &n2);
            struct grpc_part three[] = {{body, bl / 3}, {"", 0}, {body + bl / 3, bl - bl / 3}};
            uint8_t *got3 = grpc_payload_encode_parts(t, three, 3, &n3);
            assert_int_equal(n2, n1);
            assert_memory_equal(got, want, n1);
            assert_int_equal(n3, n1);
            assert_memory_equal(got3, want, n1);
            free(want);
            free(got);
            free(got3);
        }
    }
}

static void test_decode_hand_bytes(void **state)
{
    (void)state;
    /* metadata {type "Req", clientIp "1.2.3.4", headers {"k": "v"}}, body {type_url "", value "{\"a\":1}"} */
    const uint8_t in[] = {0x12, 0x16, 0x1a, 0x03, 'R', 'e', 'q', 0x42, 0x07, '1', '.', '2', '.', '3', '.', '4',
                          0x3a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v',
                          0x1a, 0x09, 0x12, 0x07, '{', '"', 'a', '"', ':', '1', '}'};
    struct grpc_payload p;
    decode_ok(in, sizeof in, &p);
    assert_string_equal(p.type, "Req");
    assert_string_equal(p.client_ip, "1.2.3.4");
    assert_int_equal(p.n_headers, 1);
    assert_string_equal(p.headers[0].key, "k");
    assert_string_equal(p.headers[0].value, "v");
    assert_string_equal(grpc_payload_header(&p, "k"), "v");
    assert_null(grpc_payload_header(&p, "x"));
    assert_int_equal(p.body_len, 7);
    assert_string_equal(p.body, "{\"a\":1}");
    assert_string_equal(p.type_url, "");
    assert_true(p.has_metadata && p.has_body);
    grpc_payload_free(&p);
}

static void test_round_trip_full(void **state)
{
    (void)state;
    struct grpc_header h[3] = {{"accessToken", "t0k"}, {"app", "démo"}, {"empty", ""}};
    const char body[] = "{\"requestId\":\"1\",\"module\":\"naming\",\"x\":\"\xe4\xb8\xad\"}";
    struct grpc_payload in = {.type = "InstanceRequest", .client_ip = "10.0.0.1", .headers = h, .n_headers = 3,
                              .body = (char *)body, .body_len = sizeof body - 1};
    size_t n = 0;
    uint8_t *b = grpc_payload_encode_full(&in, &n);
    assert_non_null(b);
    struct grpc_payload out;
    decode_ok(b, n, &out);
    assert_string_equal(out.type, "InstanceRequest");
    assert_string_equal(out.client_ip, "10.0.0.1");
    assert_int_equal(out.n_headers, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out.headers[i].key, h[i].key);
        assert_string_equal(out.headers[i].value, h[i].value);
    }
    assert_int_equal(out.body_len, sizeof body - 1);
    assert_memory_equal(out.body, body, sizeof body);
    grpc_payload_free(&out);
    free(b);
}

static void test_round_trip_binary_and_empty_body(void **state)
{
    (void)state;
    const char bin[5] = {'a', 0, 'b', (char)0xff, 0};
    size_t n = 0;
    uint8_t *b = grpc_payload_encode("X", bin, sizeof bin, &n);
    struct grpc_payload p;
    decode_ok(b, n, &p);
    assert_int_equal(p.body_len, 5);   /* NULs inside the body survive; the length says where it ends */
    assert_memory_equal(p.body, bin, 5);
    assert_int_equal(p.body[5], '\0');
    grpc_payload_free(&p);
    free(b);

    b = grpc_payload_encode("Y", "", 0, &n);
    decode_ok(b, n, &p);
    assert_string_equal(p.type, "Y");
    assert_int_equal(p.body_len, 0);
    assert_string_equal(p.body, "");
    assert_true(p.has_body);
    grpc_payload_free(&p);
    free(b);
}

static void test_unknown_fields_skipped(void **state)
{
    (void)state;
    /* Payload: varint field 1, fixed64 field 15, metadata with an unknown LEN field 9 and fixed32 field
     * 10, body with an unknown varint field 5, then a trailing unknown LEN field 100 */
    const uint8_t in[] = {0x08, 0x96, 0x01,
                          0x79, 1, 2, 3, 4, 5, 6, 7, 8,
                          0x12, 0x0c, 0x4a, 0x02, 'z', 'z', 0x55, 1, 2, 3, 4, 0x1a, 0x01, 'T',
                          0x1a, 0x06, 0x28, 0x07, 0x12, 0x02, '{', '}',
                          0xa2, 0x06, 0x03, 'a', 'b', 'c'};
    struct grpc_payload p;
    decode_ok(in, sizeof in, &p);
    assert_string_equal(p.type, "T");
    assert_string_equal(p.body, "{}");
    assert_int_equal(p.n_headers, 0);
    grpc_payload_free(&p);
}

static void test_missing_metadata_and_body(void **state)
{
    (void)state;
    struct grpc_payload p;
    decode_ok((const uint8_t *)"", 0, &p);   /* the empty message is a valid Payload */
    assert_false(p.has_metadata);
    assert_false(p.has_body);
    assert_string_equal(p.type, "");
    assert_string_equal(p.client_ip, "");
    assert_string_equal(p.body, "");
    assert_int_equal(p.body_len, 0);
    grpc_payload_free(&p);

    const uint8_t only_body[] = {0x1a, 0x04, 0x12, 0x02, '{', '}'};
    decode_ok(only_body, sizeof only_body, &p);
    assert_false(p.has_metadata);
    assert_string_equal(p.type, "");
    assert_string_equal(p.body, "{}");
    grpc_payload_free(&p);

    const uint8_t only_meta[] = {0x12, 0x03, 0x1a, 0x01, 'T'};
    decode_ok(only_meta, sizeof only_meta, &p);
    assert_false(p.has_body);
    assert_string_equal(p.type, "T");
    assert_string_equal(p.body, "");
    grpc_payload_free(&p);
}

static void test_rust_client_payload(void **state)
{
    (void)state;
    /* nacos-sdk-rust puts the request type in body.type_url too, and sends "requestId": null */
    const char json[] = "{\"requestId\":null,\"headers\":{}}";
    struct grpc_payload in = {.type = "HealthCheckRequest", .client_ip = "192.168.1.2",
                              .body = (char *)json, .body_len = sizeof json - 1, .type_url = "HealthCheckRequest"};
    size_t n = 0;
    uint8_t *b = grpc_payload_encode_full(&in, &n);
    /* the Any as prost writes it: type_url(1) then value(2) */
    const uint8_t any_start[] = {0x1a, (uint8_t)(2 + 18 + 2 + sizeof json - 1), 0x0a, 18};
    const uint8_t *at = memmem(b, n, any_start, sizeof any_start);
    assert_non_null(at);
    struct grpc_payload out;
    decode_ok(b, n, &out);
    assert_string_equal(out.type, "HealthCheckRequest");
    assert_string_equal(out.type_url, "HealthCheckRequest");
    assert_string_equal(out.body, json);
    grpc_payload_free(&out);
    free(b);
}

static void test_repeated_header_key(void **state)
{
    (void)state;
    /* a map key sent twice: both kept in wire order, the lookup gives the last (protobuf map rule) */
    const uint8_t in[] = {0x12, 0x10, 0x3a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, '1',
                          0x3a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, '2'};
    struct grpc_payload p;
    decode_ok(in, sizeof in, &p);
    assert_int_equal(p.n_headers, 2);
    assert_string_equal(grpc_payload_header(&p, "k"), "2");
    grpc_payload_free(&p);

    /* a map entry without its value (proto3 default) */
    const uint8_t novalue[] = {0x12, 0x05, 0x3a, 0x03, 0x0a, 0x01, 'k'};
    decode_ok(novalue, sizeof novalue, &p);
    assert_int_equal(p.n_headers, 1);
    assert_string_equal(grpc_payload_header(&p, "k"), "");
    grpc_payload_free(&p);
}

static void assert_refused(const uint8_t *b, size_t n)
{
    struct grpc_payload p;
    char err[128] = "";
    memset(&p, 0x5a, sizeof p);
    assert_int_equal(grpc_payload_decode(b, n, &p, err, sizeof err), -1);
    assert_string_equal(err, "invalid protobuf");
    assert_null(p.type);   /* zeroed: grpc_payload_free on it is harmless */
    grpc_payload_free(&p);
}

static void test_invalid_bytes(void **state)
{
    (void)state;
    const uint8_t truncated_len[] = {0x12, 0x05, 0x1a, 0x01};          /* metadata claims 5, has 2 */
    const uint8_t bad_wire_type[] = {0x0f, 0x00};                      /* wire type 7 */
    const uint8_t msg_as_varint[] = {0x10, 0x01};                      /* metadata (a message) as a varint */
    const uint8_t endless_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t bad_utf8_type[] = {0x12, 0x03, 0x1a, 0x01, 0xff};    /* proto3 string, not UTF-8 */
    const uint8_t tag_only[] = {0x12};
    const uint8_t field_zero[] = {0x02, 0x00};
    assert_refused(truncated_len, sizeof truncated_len);
    assert_refused(bad_wire_type, sizeof bad_wire_type);
    assert_refused(msg_as_varint, sizeof msg_as_varint);
    assert_refused(endless_varint, sizeof endless_varint);
    assert_refused(bad_utf8_type, sizeof bad_utf8_type);
    assert_refused(tag_only, sizeof tag_only);
    assert_refused(field_zero, sizeof field_zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_bytes_exact),
        cmocka_unit_test(test_encode_parts_matches_protobuf_c),
        cmocka_unit_test(test_decode_hand_bytes),
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_round_trip_binary_and_empty_body),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_missing_metadata_and_body),
        cmocka_unit_test(test_rust_client_payload),
        cmocka_unit_test(test_repeated_header_key),
        cmocka_unit_test(test_invalid_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
