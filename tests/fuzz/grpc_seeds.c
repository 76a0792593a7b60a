/*
 * grpc_seeds.c — writes the seed corpus of fuzz_grpc (tests/fuzz/corpus/grpc): what a gRPC client
 * sends on one connection, produced by nghttp2's client side in memory (no socket): the preface,
 * SETTINGS, then HEADERS and DATA of unary calls and bi-stream messages as Java, Go and Rust clients
 * shape them, plus the transport's error paths (cancel, compressed flag, a claimed length past the
 * cap, unknown path, two messages in one call, bytes that are not a Payload).
 *
 *   build/tests/nm_grpc_seeds tests/fuzz/corpus/grpc
 *
 * The output is deterministic (same library version, same bytes). Not a test; see tests/fuzz/README.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"

struct body {                    /* a request body the data provider reads */
    uint8_t *p;
    size_t len, off;
    bool end_stream, waiting;
    int32_t id;
};

struct gen {
    nghttp2_session *h2;
    uint8_t *out;
    size_t len;
    struct body bodies[8];
    int n_bodies;
};

static void die(const char *what)
{
    fprintf(stderr, "nm_grpc_seeds: %s\n", what);
    exit(1);
}

static ssize_t provider(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    struct body *b = src->ptr;
    size_t k = b->len - b->off;
    if (k > length) k = length;
    if (k) memcpy(buf, b->p + b->off, k);
    b->off += k;
    if (b->off == b->len && b->end_stream) *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (k == 0) {
        b->waiting = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)k;
}

/* Everything the session has to send, appended to the output. */
static void drain(struct gen *g)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(g->h2, &d)) > 0) {
        uint8_t *no = realloc(g->out, g->len + (size_t)n);
        if (!no) die("out of memory");
        memcpy(no + g->len, d, (size_t)n);
        g->out = no;
        g->len += (size_t)n;
    }
    if (n < 0) die(nghttp2_strerror((int)n));
}

static void gen_start(struct gen *g)
{
    memset(g, 0, sizeof *g);
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) || nghttp2_session_client_new(&g->h2, cbs, g)) die("session");
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[1] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv, 1);
}

/* Starts a call on path with `len` body bytes (copied); more may follow with gen_more. */
static struct body *gen_call(struct gen *g, const char *path, const uint8_t *p, size_t len, bool end_stream)
{
    if (g->n_bodies == 8) die("too many calls");
    struct body *b = &g->bodies[g->n_bodies++];
    b->p = malloc(len ? len : 1);
    if (len) memcpy(b->p, p, len);
    b->len = len;
    b->end_stream = end_stream;
    nghttp2_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"127.0.0.1:9848", 10, 14, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-timeout", (uint8_t *)"3000m", 12, 5, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.source = {.ptr = b}, .read_callback = provider};
    b->id = nghttp2_submit_request(g->h2, NULL, nva, sizeof nva / sizeof nva[0], &prd, NULL);
    if (b->id < 0) die("submit_request");
    drain(g);
    return b;
}

/* More body bytes on a call (a bi-stream message), END_STREAM after them when end_stream. */
static void gen_more(struct gen *g, struct body *b, const uint8_t *p, size_t len, bool end_stream)
{
    uint8_t *np = realloc(b->p, b->len + len + 1);
    if (!np) die("out of memory");
    if (len) memcpy(np + b->len, p, len);
    b->p = np;
    b->len += len;
    b->end_stream = end_stream;
    if (b->waiting) {
        b->waiting = false;
        nghttp2_session_resume_data(g->h2, b->id);
    }
    drain(g);
}

static void gen_write(struct gen *g, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(g->out, 1, g->len, f) != g->len || fclose(f)) die(path);
    nghttp2_session_del(g->h2);
    for (int i = 0; i < g->n_bodies; i++) free(g->bodies[i].p);
    free(g->out);
}

/* A framed Payload. Caller frees. */
static uint8_t *msg(const char *type, const char *json, const char *client_ip, const char *type_url,
                    struct grpc_header *headers, size_t n_headers, size_t *len)
{
    struct grpc_payload p = {.type = (char *)type, .body = (char *)json, .body_len = strlen(json),
                             .client_ip = (char *)client_ip, .type_url = (char *)type_url, .headers = headers,
                             .n_headers = n_headers};
    size_t n = 0;
    uint8_t *pl = grpc_payload_encode_full(&p, &n);
    uint8_t *framed = pl ? grpc_frame_encode(pl, n, len) : NULL;
    free(pl);
    if (!framed) die("encode");
    return framed;
}

static void unary(const char *dir, const char *name, const char *type, const char *json)
{
    struct gen g;
    gen_start(&g);
    size_t n;
    uint8_t *m = msg(type, json, "", "", NULL, 0, &n);
    gen_call(&g, "/Request/request", m, n, true);
    free(m);
    gen_write(&g, dir, name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    struct gen g;
    size_t n, n2;
    uint8_t *m, *m2;

    unary(dir, "unary-echo", "Echo", "{\"requestId\":\"1\",\"module\":\"naming\",\"headers\":{}}");
    unary(dir, "unary-defer", "Defer", "{\"requestId\":\"2\"}");
    unary(dir, "unary-reset", "Reset", "{}");
    unary(dir, "unary-close", "Close", "{}");
    unary(dir, "unary-status", "Status", "{}");
    unary(dir, "unary-not-json", "Echo", "{\"requestId\":");

    /* Java's ServerCheck: metadata with clientIp and an empty headers map, no type_url */
    gen_start(&g);
    m = msg("ServerCheckRequest", "{\"headers\":{},\"requestId\":\"77\",\"module\":\"internal\"}", "192.168.0.2", "",
            NULL, 0, &n);
    gen_call(&g, "/Request/request", m, n, true);
    free(m);
    gen_write(&g, dir, "unary-java-servercheck");

    /* Rust: type_url set, requestId null, app headers */
    gen_start(&g);
    struct grpc_header rh[2] = {{"app", "demo"}, {"accessToken", "t0k3n"}};
    m = msg("HealthCheckRequest", "{\"requestId\":null,\"headers\":{}}", "10.0.0.7", "HealthCheckRequest", rh, 2, &n);
    gen_call(&g, "/Request/request", m, n, true);
    free(m);
    gen_write(&g, dir, "unary-rust-healthcheck");

    /* one connection: a unary call, then the bi-stream with Setup and a push ack, then half-close */
    gen_start(&g);
    m = msg("InstanceRequest",
            "{\"requestId\":\"3\",\"namespace\":\"public\",\"serviceName\":\"demo\",\"groupName\":\"DEFAULT_GROUP\","
            "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.0.0.1\",\"port\":8080,\"weight\":1.0,"
            "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{}}}",
            "", "", NULL, 0, &n);
    gen_call(&g, "/Request/request", m, n, true);
    free(m);
    struct body *bi = gen_call(&g, "/BiRequestStream/requestBiStream", NULL, 0, false);
    m = msg("ConnectionSetupRequest",
            "{\"clientVersion\":\"Nacos-Java-Client:v2.3.0\",\"tenant\":\"\",\"labels\":{\"source\":\"sdk\","
            "\"module\":\"naming\"},\"abilityTable\":{},\"requestId\":\"\",\"headers\":{}}",
            "", "", NULL, 0, &n);
    gen_more(&g, bi, m, n, false);
    free(m);
    m = msg("NotifySubscriberResponse", "{\"requestId\":\"1\",\"resultCode\":200,\"success\":true}", "", "", NULL, 0,
            &n);
    gen_more(&g, bi, m, n, true);
    free(m);
    gen_write(&g, dir, "unary-and-bidi");

    /* a bi-stream message split over two DATA frames, and a second bi-stream */
    gen_start(&g);
    bi = gen_call(&g, "/BiRequestStream/requestBiStream", NULL, 0, false);
    m = msg("ConnectionSetupRequest", "{\"clientVersion\":\"Nacos-Go-Client:v2.3.0\",\"abilities\":{}}", "", "",
            NULL, 0, &n);
    gen_more(&g, bi, m, n / 2, false);
    gen_more(&g, bi, m + n / 2, n - n / 2, false);
    free(m);
    gen_call(&g, "/BiRequestStream/requestBiStream", NULL, 0, true);
    gen_write(&g, dir, "bidi-split-and-second");

    /* a message spanning several DATA frames (40 KB) */
    gen_start(&g);
    char *big = malloc(40002);
    memset(big, 'x', 40001);
    big[0] = '"';
    big[40000] = '"';
    big[40001] = '\0';
    m = msg("Echo", big, "", "", NULL, 0, &n);
    free(big);
    gen_call(&g, "/Request/request", m, n, true);
    free(m);
    gen_write(&g, dir, "unary-40k");

    /* two messages in one DATA frame of a unary call */
    gen_start(&g);
    m = msg("Echo", "{\"a\":1}", "", "", NULL, 0, &n);
    m2 = malloc(2 * n);
    memcpy(m2, m, n);
    memcpy(m2 + n, m, n);
    gen_call(&g, "/Request/request", m2, 2 * n, true);
    free(m);
    free(m2);
    gen_write(&g, dir, "unary-two-messages");

    /* a hanging call the client cancels, and a PING */
    gen_start(&g);
    m = msg("Hang", "{}", "", "", NULL, 0, &n);
    struct body *h = gen_call(&g, "/Request/request", m, n, true);
    free(m);
    nghttp2_submit_ping(g.h2, NGHTTP2_FLAG_NONE, NULL);
    nghttp2_submit_rst_stream(g.h2, NGHTTP2_FLAG_NONE, h->id, NGHTTP2_CANCEL);
    drain(&g);
    gen_write(&g, dir, "unary-hang-cancel-ping");

    /* the transport's refusals: compressed flag, 100 MB claimed, unknown path, not a Payload */
    gen_start(&g);
    uint8_t comp[8] = {1, 0, 0, 0, 3, 1, 2, 3};
    gen_call(&g, "/Request/request", comp, sizeof comp, true);
    uint8_t huge[64] = {0};
    grpc_frame_prefix(huge, (size_t)100 << 20);
    gen_call(&g, "/Request/request", huge, sizeof huge, false);
    m = msg("Echo", "{}", "", "", NULL, 0, &n);
    gen_call(&g, "/Nope/nope", m, n, true);
    free(m);
    uint8_t junk[9] = {0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff};
    gen_call(&g, "/Request/request", junk, sizeof junk, true);
    gen_write(&g, dir, "refusals");

    /* a message cut short by END_STREAM */
    gen_start(&g);
    m = msg("Echo", "{}", "", "", NULL, 0, &n2);
    gen_call(&g, "/Request/request", m, n2 - 1, true);
    free(m);
    gen_write(&g, dir, "unary-cut-short");
    return 0;
}
