/*
 * cs_http — the config center over HTTP (config-api.md §1, §2): v1 /nacos/v1/cs/configs (get, detail,
 * search, publish, remove), /configs/listener (long polling held without a worker, reply_hold),
 * /history, and the v2 Open API /nacos/v2/cs/config with its envelope. Each handler is an adapter:
 * parameters and headers into cs_core's structs, the core called, its answer or cs_error rendered as
 * v1 text or the v2 envelope. Nothing here decides a config rule.
 *
 * Also the v1 listener's wire format as pure functions (bytes in, struct out; fuzzed by
 * tests/fuzz/fuzz_listening.c): `Listening-Configs` is, once form-decoded, URL-decoded once more (as
 * Nacos does) and split into keys `dataId␂group␂md5␁` or `dataId␂group␂md5␂tenant␁` (␂ = U+0002,
 * ␁ = U+0001); the answer lists changed keys `dataId␂group[␂tenant]␁` encoded like Java's URLEncoder.
 *
 * Threading: handlers run without app->mu (ROUTE_NO_LOCK); the core has its own lock.
 */
#ifndef NACOS_MOCK_CS_HTTP_H
#define NACOS_MOCK_CS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "nacos_mock/cs_listen.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;
struct fault_request;

#define H(name) void name(struct app *app, struct request *req, struct reply *rep)
H(h_cs_configs_get);        /* get; ?show=all detail; ?search=accurate|blur search */
H(h_cs_configs_publish);
H(h_cs_configs_remove);
H(h_cs_listener);
H(h_cs_history);            /* ?search=accurate list; ?nid= one entry */
H(h_cs2_config_get);
H(h_cs2_config_publish);
H(h_cs2_config_remove);
#undef H

/* The API name of a GET /nacos/v1/cs/configs: "config.search" with ?search=, else "config.get". */
const char *cs_http_get_api(const struct request *req);
/* What a fault rule sees of a config request: its namespace (normalised), group and dataId — for a
 * listener poll, each of its keys (fr->about). */
void cs_http_fault_scope(struct request *req, struct fault_request *fr);

/* ---- the v1 listener wire format (pure) */
#define CS_LISTEN_MAX_KEYS 10000

struct cs_listening {
    struct cs_listen_key *keys;   /* point into buf */
    size_t n;
    char *buf;
};
/* Parses a `Listening-Configs` value (form-decoded once; URL-decoded once more here). A trailing key
 * without its ␁ is ignored (as Nacos does). 0 ok (out filled: free with cs_listening_free); -1 with
 * a message naming the problem in err: more than 3 ␂ in a key, fewer than 2, more than
 * CS_LISTEN_MAX_KEYS keys, a NUL byte. An empty value parses to no keys. */
int cs_listening_parse(const char *s, size_t len, struct cs_listening *out, char *err, size_t errlen);
void cs_listening_free(struct cs_listening *l);
/* The listener's answer for the keys with changed[i]: `dataId␂group[␂tenant]␁` each (the tenant
 * only when the client sent a non-blank one, spelled as it did), encoded like Java's URLEncoder
 * (A-Z a-z 0-9 . - * _ kept, space as +, else %XX), then "\n" — or "" when none changed. Caller
 * frees; NULL when out of memory. */
char *cs_listening_encode(const struct cs_listen_key *keys, const bool *changed, size_t n, size_t *len);

#endif
