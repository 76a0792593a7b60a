/*
 * cs_core — the config center, once for every way in (style.md "Several ways in, one core"). The
 * v1 and v2 HTTP handlers (cs_http.c), the gRPC adapter (later) and the control plane (registry.c,
 * control.c) turn their input into the structs below, call these functions and render the result in
 * their own wire form. Validation, defaults, CAS, store writes, history, change notification and
 * listener wake-ups and pushes live here, and nowhere else. A test of the core needs no transport.
 *
 * Rules (config-api.md "Decisions"): a config is keyed by (namespace, group, dataId); the namespace
 * is the tenant with blank, "public" and "null" (any case) meaning the public one, on every call;
 * dataId 1-256 and group 1-128 characters of [A-Za-z0-9_.:-], tenant at most 64 of [A-Za-z0-9_-];
 * content required, not blank, valid UTF-8 without NUL, at most CS_CONTENT_MAX bytes, stored and
 * served byte-exact; md5 = lowercase hex MD5 of those bytes ("" for an absent config); a change is a
 * publish that changes the md5, or a removal of an existing config — only changes wake listeners;
 * gray release (`tag`, `betaIps`) is refused on publish and finds nothing on get. Every error names
 * the field (struct cs_error) and changes nothing.
 *
 * Owns: the config store connection (store.h "configs") and the listener registry (cs_listen.h).
 * Threading: any thread. Its own mutex serialises the store; it is a leaf but for cs_listen, which
 * is taken after it is released (lock order: app->mu → cs->mu; cs_listen → http.c's timer lock).
 * The control plane calls in while holding app->mu; nothing here ever takes app->mu.
 */
#ifndef NACOS_MOCK_CS_CORE_H
#define NACOS_MOCK_CS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/cs_listen.h"
#include "nacos_mock/store.h"

#define CS_CONTENT_MAX (10 * 1024 * 1024)
#define CS_DATA_ID_MAX 256
#define CS_GROUP_MAX 128
#define CS_TENANT_MAX 64
#define CS_DESC_MAX 128
#define CS_TAGS_MAX 5
#define CS_TAG_MAX 64
#define CS_PAGE_SIZE_MAX 500
#define CS_DEFAULT_GROUP "DEFAULT_GROUP"

struct cs_core;

/* What is wrong, for the adapters to render: v1 text (`caused: <msg>;` when `caused`, else <msg>
 * bare), the v2 envelope, a gRPC errorCode. */
enum cs_status {
    CS_OK = 0,
    CS_MISSING,      /* a required field is absent or blank: v1 400, v2 400 code 10000 */
    CS_INVALID,      /* a field's value is refused: v1 400, v2 400 code 20002, gRPC errorCode 400 */
    CS_NOT_FOUND,    /* get of an absent config: v1 404, v2 404 code 20004, gRPC errorCode 300 */
    CS_CONFLICT,     /* casMd5 differs: v1 500, v2 500 code 20005, gRPC errorCode 500 */
    CS_ERROR,        /* the store failed: 500 */
};
struct cs_error {
    enum cs_status status;
    char field[40];  /* "dataId", "group", "tenant", "content", "desc", "config_tags", "pageNo", ...; "" none */
    char msg[300];   /* Nacos's wording, e.g. "Param 'dataId' is illegal, length should not exceed 256." */
    bool caused;     /* v1 frames it as `caused: <msg>;` */
};

/* A config as a request names it. */
struct cs_key {
    const char *data_id, *group;
    const char *tenant;   /* as spelled: NULL, "", "public", "null" = the public namespace */
};

/* true when the n bytes at p are valid UTF-8 (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF); else false with the offset of the first bad byte in *bad_at (may be NULL). Pure. */
bool cs_utf8_valid(const char *p, size_t n, size_t *bad_at);
/* The stored type for a client's `type`: one of properties xml json text html yaml toml unset, else
 * (blank, unknown) "text" — never an error, as Nacos. Pure. */
const char *cs_type(const char *type);
/* Validates a key: dataId and group required, names and tenant as above. CS_OK or the error. Pure. */
enum cs_status cs_key_check(const struct cs_key *k, struct cs_error *err);

struct cs_core *cs_core_new(const char *db_path, char *err, size_t errlen);
void cs_core_free(struct cs_core *cs);
/* The listener registry (for the adapters' polls, connection listeners and the push hook). */
struct cs_listen *cs_listeners(struct cs_core *cs);

/* ---- publish */
struct cs_publish {
    struct cs_key key;
    const char *content;          /* NULL = absent */
    size_t content_len;
    const char *type, *app_name, *desc, *config_tags, *src_user, *encrypted_data_key;   /* NULL/blank = default */
    const char *cas_md5;          /* NULL/blank = unconditional; else only an absent config or one with this md5 is written */
    const char *tag, *beta_ips;   /* gray release: refused when not blank */
    const char *src_ip;           /* who, for the history */
};
struct cs_publish_result {
    bool created;                 /* there was no such config */
    bool changed;                 /* its md5 changed (listeners were woken and pushed) */
    char md5[33];
};
/* Validation alone (the control plane checks a whole snapshot before writing any of it). Pure. */
enum cs_status cs_publish_check(const struct cs_publish *p, struct cs_error *err);
/* Creates or updates the config (history: `I` with the new content, `U` with the one before), then
 * wakes and pushes its listeners when the md5 changed. `transport` ("http", "grpc", "control") is
 * told to the change hook. res may be NULL. */
enum cs_status cs_publish(struct cs_core *cs, const struct cs_publish *p, const char *transport, int64_t now_ms,
                          struct cs_publish_result *res, struct cs_error *err);
/* n publishes in one transaction, all or nothing; err->field gets "[i]." before the field of entry i
 * at fault (e.g. "[1].dataId"). */
enum cs_status cs_publish_many(struct cs_core *cs, const struct cs_publish *v, size_t n, const char *transport,
                               int64_t now_ms, struct cs_error *err);

/* ---- read */
/* The config as an owned record (free with cs_config_free). A non-blank tag (gray release) finds
 * nothing: CS_NOT_FOUND. */
enum cs_status cs_get(struct cs_core *cs, const struct cs_key *key, const char *tag, struct config_rec *out,
                      struct cs_error *err);
void cs_config_free(struct config_rec *c);

/* ---- remove */
/* Removes the config (history `D` with the content before) and wakes / pushes its listeners; a
 * missing config is no error (*removed false). A non-blank tag removes nothing. removed may be NULL. */
enum cs_status cs_remove(struct cs_core *cs, const struct cs_key *key, const char *tag, const char *src_ip,
                         const char *src_user, const char *transport, int64_t now_ms, bool *removed,
                         struct cs_error *err);
/* Removes every config and all history (control-plane reset), waking and pushing the listeners of
 * each config that was there. */
enum cs_status cs_clear(struct cs_core *cs, const char *transport, struct cs_error *err);

/* ---- search, snapshot, history (callbacks get views valid during the call, with the core's lock
 * held: they must not call back into the core) */
struct cs_search {
    const char *tenant, *data_id, *group, *app_name;   /* NULL/blank = any (tenant: the public namespace) */
    bool blur;                                          /* `*` in dataId / group matches any run */
    long page_no, page_size;                            /* from 1; 1..CS_PAGE_SIZE_MAX */
};
enum cs_status cs_search(struct cs_core *cs, const struct cs_search *q, store_config_cb cb, void *ctx, long *total,
                         struct cs_error *err);
/* Every config, ordered by namespace, group, dataId. */
enum cs_status cs_foreach(struct cs_core *cs, store_config_cb cb, void *ctx, struct cs_error *err);
/* History of a config, newest first (pages as for search). */
enum cs_status cs_history(struct cs_core *cs, const struct cs_key *key, long page_no, long page_size,
                          store_history_cb cb, void *ctx, long *total, struct cs_error *err);
/* One history entry; when key is not NULL its dataId/group/tenant must match the entry's, else
 * CS_NOT_FOUND like an unknown nid. */
enum cs_status cs_history_get(struct cs_core *cs, int64_t nid, const struct cs_key *key, store_history_cb cb,
                              void *ctx, struct cs_error *err);

/* ---- listening */
/* For each key: does the client's md5 differ from the server's ("" for an absent config)? Fills
 * changed[0..n) and *n_changed (may be NULL). Keys are not validated: a key that names no config
 * has md5 "". */
enum cs_status cs_compare(struct cs_core *cs, const struct cs_listen_key *keys, size_t n, bool *changed,
                          size_t *n_changed, struct cs_error *err);
/* gRPC ConfigBatchListenRequest for connection conn: with listen, registers each key for conn (then
 * compares, so no change can fall between the two) and fills changed/n_changed; without, unregisters
 * them (changed all false). */
enum cs_status cs_listen_batch(struct cs_core *cs, uint64_t conn, bool listen, const struct cs_listen_key *keys,
                               size_t n, bool *changed, size_t *n_changed, struct cs_error *err);

/* ---- the change hook: every committed change, whoever made it, after listeners were told. The
 * events stream (issue #17) registers here; NULL unregisters. Called outside the core's lock. */
struct cs_change {
    const char *action;           /* "published" | "removed" */
    const char *ns, *group, *data_id;
    const char *md5;              /* the new md5, "" after a removal */
    const char *transport;        /* "http" | "grpc" | "control" */
};
typedef void (*cs_change_hook)(void *ctx, const struct cs_change *c);
void cs_set_change_hook(struct cs_core *cs, cs_change_hook hook, void *ctx);

#endif
