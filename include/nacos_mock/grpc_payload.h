/*
 * grpc_payload — the Nacos gRPC `Payload` message (grpc-api.md §1) to and from C, and nothing more:
 * `Payload {Metadata metadata = 2; google.protobuf.Any body = 3}`, `Metadata {string type = 3;
 * string clientIp = 8; map<string,string> headers = 7}`. The body is the Any's `value`: UTF-8 JSON
 * in Nacos; this module does not look inside it. The Any's `type_url` (empty from Java, Go and
 * Python, a type name from Rust) is read for completeness and never written.
 *
 * Owns: the only use of the protobuf-c generated code (server/proto/, compiled by protoc-c at build
 * time); nothing of protobuf-c appears in this header. Decoding skips unknown fields; a missing
 * metadata or body decodes as empty strings (the caller decides whether that is an error).
 *
 * Threading: pure functions; a struct grpc_payload belongs to its caller.
 */
#ifndef NACOS_MOCK_GRPC_PAYLOAD_H
#define NACOS_MOCK_GRPC_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct grpc_header {
    char *key, *value;       /* NUL-terminated UTF-8 */
};

struct grpc_payload {
    char *type;              /* metadata.type: the Java simple class name ("InstanceRequest"); "" if absent */
    char *client_ip;         /* metadata.clientIp; "" if absent */
    struct grpc_header *headers;   /* metadata.headers in wire order; a key sent twice appears twice */
    size_t n_headers;
    char *body;              /* body.value, NUL-terminated copy (it may hold NULs of its own); "" if absent */
    size_t body_len;         /* bytes of body before the terminating NUL */
    char *type_url;          /* body.type_url; "" if absent */
    bool has_metadata, has_body;   /* whether the fields were on the wire */
};

/*
 * Decodes one Payload message (unframed protobuf bytes). 0 with *out filled (every string non-NULL;
 * free with grpc_payload_free), or -1 with a message in err ("invalid protobuf", "out of memory")
 * and *out zeroed. Strings the wire holds as proto3 `string` must be valid UTF-8 (checked here: protobuf-c 1.4 does
 * not); the body is `bytes` and is not checked.
 */
int grpc_payload_decode(const uint8_t *msg, size_t len, struct grpc_payload *out, char *err, size_t errlen);
void grpc_payload_free(struct grpc_payload *p);

/* The value of header `key` (the last one when sent twice), or NULL. */
const char *grpc_payload_header(const struct grpc_payload *p, const char *key);

/*
 * Encodes a Payload whose metadata holds `type` and whose body's value holds json_len bytes of
 * `json` (type_url empty) — what a response carries. Metadata and body are always present on the
 * wire, even when empty (the Rust client refuses a Payload without them). Returns a malloc'd buffer
 * of *out_len bytes (caller frees), NULL when out of memory.
 */
uint8_t *grpc_payload_encode(const char *type, const char *json, size_t json_len, size_t *out_len);

/* The same bytes as grpc_payload_encode(type, the parts one after the other), written straight into
 * the message: a large body (a 37 KB serviceInfo) is copied once instead of being joined first and
 * then copied again by protobuf-c. The only hand-written protobuf in nacos-mock, for the one message
 * shape it answers with (tested byte for byte against the protobuf-c encoder). */
struct grpc_part {
    const void *p;
    size_t len;
};
uint8_t *grpc_payload_encode_parts(const char *type, const struct grpc_part *parts, size_t n, size_t *out_len);

/*
 * Encodes a whole Payload as a client sends it: p->type, client_ip, headers, body/body_len and
 * type_url (NULL strings are empty). For the test client and tools. Caller frees; NULL when out of
 * memory.
 */
uint8_t *grpc_payload_encode_full(const struct grpc_payload *p, size_t *out_len);

#endif
