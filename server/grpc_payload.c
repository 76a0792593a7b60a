/*
 * grpc_payload.c — Payload decode/encode through the protobuf-c code generated from
 * server/proto/nacos_grpc.proto (see grpc_payload.h). The only file that includes it.
 */
#include "nacos_mock/grpc_payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_grpc.pb-c.h"
#include "nacos_mock/util.h"

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* RFC 3629 UTF-8 (util_utf8_seq: no overlongs, surrogates or code points past U+10FFFF): what protobuf
 * requires of a proto3 `string` and Java's and Go's parsers check, but protobuf-c 1.4 does not. */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    for (size_t k; *s; s += k)
        if (!(k = util_utf8_seq(s, SIZE_MAX))) return false;
    return true;
}

/* Every proto3 string of the message is UTF-8. */
static bool strings_valid(const Payload *pl)
{
    const Metadata *md = pl->metadata;
    if (pl->body && !valid_utf8(pl->body->type_url)) return false;
    if (!md) return true;
    if (!valid_utf8(md->type) || !valid_utf8(md->clientip)) return false;
    for (size_t i = 0; i < md->n_headers; i++)
        if (!valid_utf8(md->headers[i]->key) || !valid_utf8(md->headers[i]->value)) return false;
    return true;
}

void grpc_payload_free(struct grpc_payload *p)
{
    if (!p) return;
    free(p->type);
    free(p->client_ip);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].key);
        free(p->headers[i].value);
    }
    free(p->headers);
    free(p->body);
    free(p->type_url);
    memset(p, 0, sizeof *p);
}

int grpc_payload_decode(const uint8_t *msg, size_t len, struct grpc_payload *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = -1;
    Payload *pl = payload__unpack(NULL, len, msg);
    if (!pl || !strings_valid(pl)) {
        if (pl) payload__free_unpacked(pl, NULL);
        snprintf(err, errlen, "invalid protobuf");
        return -1;
    }
    const Metadata *md = pl->metadata;
    const Google__Protobuf__Any *body = pl->body;
    out->has_metadata = md != NULL;
    out->has_body = body != NULL;
    out->type = dup_or_empty(md ? md->type : NULL);
    out->client_ip = dup_or_empty(md ? md->clientip : NULL);
    out->type_url = dup_or_empty(body ? body->type_url : NULL);
    size_t blen = body ? body->value.len : 0;
    out->body = malloc(blen + 1);
    if (!out->type || !out->client_ip || !out->type_url || !out->body) goto out;
    if (blen) memcpy(out->body, body->value.data, blen);
    out->body[blen] = '\0';
    out->body_len = blen;
    if (md && md->n_headers) {
        out->headers = calloc(md->n_headers, sizeof *out->headers);
        if (!out->headers) goto out;
        for (size_t i = 0; i < md->n_headers; i++) {
            const Metadata__HeadersEntry *e = md->headers[i];
            out->headers[i].key = dup_or_empty(e->key);
            out->headers[i].value = dup_or_empty(e->value);
            out->n_headers = i + 1;
            if (!out->headers[i].key || !out->headers[i].value) goto out;
        }
    }
    rc = 0;
out:
    payload__free_unpacked(pl, NULL);
    if (rc) {
        grpc_payload_free(out);
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

const char *grpc_payload_header(const struct grpc_payload *p, const char *key)
{
    for (size_t i = p->n_headers; i-- > 0;)
        if (!strcmp(p->headers[i].key, key)) return p->headers[i].value;
    return NULL;
}

/* Packs a Payload built on the stack into a malloc'd buffer. */
static uint8_t *pack(const Payload *pl, size_t *out_len)
{
    size_t n = payload__get_packed_size(pl);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return NULL;
    *out_len = payload__pack(pl, buf);
    return buf;
}

uint8_t *grpc_payload_encode_full(const struct grpc_payload *p, size_t *out_len)
{
    Metadata md = METADATA__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Payload pl = PAYLOAD__INIT;
    Metadata__HeadersEntry *entries = NULL, **ptrs = NULL;
    uint8_t *buf = NULL;
    if (p->n_headers) {
        entries = calloc(p->n_headers, sizeof *entries);
        ptrs = calloc(p->n_headers, sizeof *ptrs);
        if (!entries || !ptrs) goto out;
        for (size_t i = 0; i < p->n_headers; i++) {
            metadata__headers_entry__init(&entries[i]);
            entries[i].key = p->headers[i].key ? p->headers[i].key : "";
            entries[i].value = p->headers[i].value ? p->headers[i].value : "";
            ptrs[i] = &entries[i];
        }
    }
    md.type = p->type ? p->type : "";
    md.clientip = p->client_ip ? p->client_ip : "";
    md.n_headers = p->n_headers;
    md.headers = ptrs;
    any.type_url = p->type_url ? p->type_url : "";
    any.value.data = (uint8_t *)(p->body ? p->body : "");
    any.value.len = p->body ? p->body_len : 0;
    pl.metadata = &md;
    pl.body = &any;
    buf = pack(&pl, out_len);
out:
    free(entries);
    free(ptrs);
    return buf;
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *w, size_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

/* Payload {metadata(2) {type(3)}, body(3) {value(2)}}: the submessages always, their fields only
 * when not empty (proto3), in field order, as protobuf-c packs them. */
uint8_t *grpc_payload_encode_parts(const char *type, const struct grpc_part *parts, size_t n, size_t *out_len)
{
    size_t tlen = strlen(type), jlen = 0;
    for (size_t i = 0; i < n; i++) jlen += parts[i].len;
    size_t mlen = tlen ? 1 + varint_len(tlen) + tlen : 0, alen = jlen ? 1 + varint_len(jlen) + jlen : 0;
    size_t total = 1 + varint_len(mlen) + mlen + 1 + varint_len(alen) + alen;
    uint8_t *buf = malloc(total), *w = buf;
    if (!buf) return NULL;
    *w++ = 0x12;
    w = put_varint(w, mlen);
    if (tlen) {
        *w++ = 0x1a;
        w = put_varint(w, tlen);
        memcpy(w, type, tlen);
        w += tlen;
    }
    *w++ = 0x1a;
    w = put_varint(w, alen);
    if (jlen) {
        *w++ = 0x12;
        w = put_varint(w, jlen);
        for (size_t i = 0; i < n; i++) {
            if (parts[i].len) memcpy(w, parts[i].p, parts[i].len);
            w += parts[i].len;
        }
    }
    *out_len = total;
    return buf;
}

uint8_t *grpc_payload_encode(const char *type, const char *json, size_t json_len, size_t *out_len)
{
    struct grpc_payload p = {.type = (char *)type, .body = (char *)json, .body_len = json_len};
    return grpc_payload_encode_full(&p, out_len);
}
