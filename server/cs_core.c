/*
 * cs_core.c — the config center's one core (see cs_core.h): validation, defaults, CAS, the store
 * writes with their history, and change notification.
 *
 * A write is: validate and hash outside the lock (a 10 MiB content costs ~20 ms of MD5), then under
 * the lock one store transaction (md5 lookup, CAS, history, write), then — the lock released — tell
 * the listeners and the change hook (cs_changed) when the md5 changed.
 */
#include "nacos_mock/cs_core.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/md5.h"
#include "nacos_mock/util.h"

struct cs_core {
    pthread_mutex_t mu;          /* the store connection */
    struct cfg_store *store;
    struct cs_listen *listen;
    cs_change_hook hook;         /* under mu */
    void *hook_ctx;
};

/* ---------------------------------------------------------------- pure rules */

static bool blank(const char *s)
{
    if (!s) return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n' && *s != '\f' && *s != '\v') return false;
    return true;
}


bool cs_utf8_valid(const char *p, size_t n, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {   /* ASCII runs are the common case */
            i++;
            continue;
        }
        size_t k = util_utf8_seq(s + i, n - i);
        if (!k) {
            if (bad_at) *bad_at = i;
            return false;
        }
        i += k;
    }
    return true;
}

/* Code points in a valid UTF-8 string (what Nacos's String.length() limits count, near enough). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

const char *cs_type(const char *type)
{
    static const char *const TYPES[] = {"properties", "xml", "json", "text", "html", "yaml", "toml", "unset"};
    for (size_t i = 0; type && i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(type, TYPES[i])) return TYPES[i];
    return "text";
}

static enum cs_status fail(struct cs_error *err, enum cs_status st, const char *field, bool caused, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));
static enum cs_status fail(struct cs_error *err, enum cs_status st, const char *field, bool caused, const char *fmt,
                           ...)
{
    err->status = st;
    err->caused = caused;
    snprintf(err->field, sizeof err->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

static enum cs_status ok(struct cs_error *err)
{
    memset(err, 0, sizeof *err);
    return CS_OK;
}

static enum cs_status missing(struct cs_error *err, const char *field)
{
    return fail(err, CS_MISSING, field, true,
                "Required request parameter '%s' for method parameter type String is not present", field);
}

/* A name of 1..max characters of [A-Za-z0-9_-] plus `extra`; `shown` is how Nacos names it. */
static enum cs_status check_name(struct cs_error *err, const char *field, const char *shown, const char *v, size_t max,
                                 const char *extra)
{
    size_t n = strlen(v);
    if (n > max) return fail(err, CS_INVALID, field, false, "Param '%s' is illegal, length should not exceed %zu.", shown, max);
    for (const char *c = v; *c; c++) {
        bool good = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                    *c == '-' || strchr(extra, *c);
        if (!good)
            return fail(err, CS_INVALID, field, false,
                        "Param '%s' is illegal, illegal characters should not appear in the param.", shown);
    }
    return CS_OK;
}

enum cs_status cs_key_check(const struct cs_key *k, struct cs_error *err)
{
    ok(err);
    if (blank(k->data_id)) return missing(err, "dataId");
    if (blank(k->group)) return missing(err, "group");
    if (check_name(err, "dataId", "dataId", k->data_id, CS_DATA_ID_MAX, ".:") ||
        check_name(err, "group", "group", k->group, CS_GROUP_MAX, ".:"))
        return err->status;
    if (strcmp(cs_namespace(k->tenant), CS_PUBLIC) &&
        check_name(err, "tenant", "namespaceId/tenant", k->tenant, CS_TENANT_MAX, ""))
        return err->status;
    return CS_OK;
}

/* Optional free text: valid UTF-8 (it goes out in JSON answers). */
static enum cs_status check_text(struct cs_error *err, const char *field, const char *v)
{
    size_t at = 0;
    if (v && !cs_utf8_valid(v, strlen(v), &at))
        return fail(err, CS_INVALID, field, true, "Param '%s' is not valid UTF-8 (byte %zu)", field, at);
    return CS_OK;
}

enum cs_status cs_publish_check(const struct cs_publish *p, struct cs_error *err)
{
    if (cs_key_check(&p->key, err)) return err->status;
    if (!p->content) return missing(err, "content");
    if (!blank(p->tag))
        return fail(err, CS_INVALID, "tag", true,
                    "Param 'tag' is set: gray release ('tag' / 'betaIps') is not supported by nacos-mock");
    if (!blank(p->beta_ips))
        return fail(err, CS_INVALID, "betaIps", true,
                    "Header 'betaIps' is set: gray release ('tag' / 'betaIps') is not supported by nacos-mock");
    if (p->content_len > CS_CONTENT_MAX)
        return fail(err, CS_INVALID, "content", true, "invalid content, over %d", CS_CONTENT_MAX);
    const char *nul = memchr(p->content, '\0', p->content_len);
    if (nul)
        return fail(err, CS_INVALID, "content", true, "invalid content: a NUL byte at byte %zu",
                    (size_t)(nul - p->content));
    size_t at = 0;
    if (!cs_utf8_valid(p->content, p->content_len, &at))
        return fail(err, CS_INVALID, "content", true, "invalid content: not valid UTF-8 at byte %zu", at);
    if (blank(p->content)) return fail(err, CS_INVALID, "content", true, "content is blank : ");
    const struct { const char *field, *v; } texts[] = {
        {"type", p->type}, {"appName", p->app_name}, {"desc", p->desc}, {"config_tags", p->config_tags},
        {"src_user", p->src_user}, {"encryptedDataKey", p->encrypted_data_key}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (check_text(err, texts[i].field, texts[i].v)) return err->status;
    if (p->desc && utf8_chars(p->desc) > CS_DESC_MAX)
        return fail(err, CS_INVALID, "desc", true, "too long desc, over %d", CS_DESC_MAX);
    if (!blank(p->config_tags)) {
        size_t tags = 0;
        for (const char *t = p->config_tags; t;) {
            const char *comma = strchr(t, ',');
            size_t len = comma ? (size_t)(comma - t) : strlen(t), chars = 0;
            for (size_t i = 0; i < len; i++) chars += ((unsigned char)t[i] & 0xc0) != 0x80;
            if (chars > CS_TAG_MAX) return fail(err, CS_INVALID, "config_tags", true, "too long tag, over %d", CS_TAG_MAX);
            tags++;
            t = comma ? comma + 1 : NULL;
        }
        if (tags > CS_TAGS_MAX)
            return fail(err, CS_INVALID, "config_tags", true, "too much config_tags, over %d", CS_TAGS_MAX);
    }
    return CS_OK;
}

/* ---------------------------------------------------------------- lifecycle */

struct cs_core *cs_core_new(const char *db_path, char *err, size_t errlen)
{
    struct cs_core *cs = calloc(1, sizeof *cs);
    if (!cs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&cs->mu, NULL);
    if (!(cs->store = store_config_open(db_path, err, errlen))) goto fail;
    if (!(cs->listen = cs_listen_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return cs;
fail:
    cs_core_free(cs);
    return NULL;
}

void cs_core_free(struct cs_core *cs)
{
    if (!cs) return;
    store_config_close(cs->store);
    cs_listen_free(cs->listen);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}

struct cs_listen *cs_listeners(struct cs_core *cs) { return cs->listen; }

void cs_set_change_hook(struct cs_core *cs, cs_change_hook hook, void *ctx)
{
    pthread_mutex_lock(&cs->mu);
    cs->hook = hook;
    cs->hook_ctx = ctx;
    pthread_mutex_unlock(&cs->mu);
}

/* A committed change, whoever made it: wakes the polls and pushes to the connections listening to
 * the key (cs_listen), then tells the change hook (the events stream, issue #17). The one place every
 * change goes through. Called without cs->mu held. */
static void cs_changed(struct cs_core *cs, const char *action, const char *ns, const char *group, const char *data_id,
                       const char *md5, const char *transport)
{
    cs_listen_changed(cs->listen, ns, group, data_id);
    pthread_mutex_lock(&cs->mu);
    cs_change_hook hook = cs->hook;
    void *ctx = cs->hook_ctx;
    pthread_mutex_unlock(&cs->mu);
    if (hook) {
        struct cs_change c = {.action = action, .ns = ns, .group = group, .data_id = data_id, .md5 = md5,
                              .transport = transport};
        hook(ctx, &c);
    }
}

static enum cs_status store_failed(struct cs_core *cs, struct cs_error *err)
{
    return fail(err, CS_ERROR, "", true, "config store error: %s", store_config_errmsg(cs->store));
}

/* ---------------------------------------------------------------- writes */

/* "[i]." before the field at fault: which entry of a batch it was. */
static void name_entry(struct cs_error *err, size_t i)
{
    char f[sizeof err->field];
    int k = snprintf(f, sizeof f, "[%zu].", i);
    snprintf(f + k, sizeof f - (size_t)k, "%.*s", (int)(sizeof f - (size_t)k - 1), err->field);
    memcpy(err->field, f, sizeof f);
}

/* One publish inside the open transaction, with cs->mu held; md5 is the content's. */
static enum cs_status write_locked(struct cs_core *cs, const struct cs_publish *p, const char *md5, int64_t now_ms,
                                   struct cs_publish_result *res, struct cs_error *err)
{
    const char *ns = cs_namespace(p->key.tenant);
    char old[33];
    int ex = store_config_md5(cs->store, ns, p->key.group, p->key.data_id, old);
    if (ex < 0) return store_failed(cs, err);
    if (ex == 0 && !blank(p->cas_md5) && strcmp(p->cas_md5, old))
        return fail(err, CS_CONFLICT, "casMd5", true, "Cas publish fail, server md5 may have changed.");
    struct config_rec r = {
        .ns = ns, .group = p->key.group, .data_id = p->key.data_id, .content = p->content,
        .content_len = p->content_len, .md5 = md5, .type = cs_type(p->type), .app_name = p->app_name,
        .desc = p->desc, .tags = p->config_tags, .encrypted_data_key = p->encrypted_data_key,
        .src_user = p->src_user, .src_ip = p->src_ip,
    };
    /* history as Nacos keeps it: U holds the content before the change, I the new one */
    if (ex == 0 && store_config_history_add(cs->store, ns, r.group, r.data_id, "U", p->src_ip, p->src_user, now_ms))
        return store_failed(cs, err);
    if (store_config_put(cs->store, &r, now_ms, NULL)) return store_failed(cs, err);
    if (ex == 1 && store_config_history_add(cs->store, ns, r.group, r.data_id, "I", p->src_ip, p->src_user, now_ms))
        return store_failed(cs, err);
    res->created = ex == 1;
    res->changed = ex == 1 || strcmp(old, md5) != 0;
    snprintf(res->md5, sizeof res->md5, "%s", md5);
    return CS_OK;
}

/* Runs n publishes (checked, md5s computed) in one transaction under the lock; results in res[]. */
static enum cs_status write_all(struct cs_core *cs, const struct cs_publish *v, char (*md5)[33], size_t n,
                                int64_t now_ms, struct cs_publish_result *res, struct cs_error *err)
{
    enum cs_status st = CS_OK;
    pthread_mutex_lock(&cs->mu);
    if (store_config_begin(cs->store)) st = store_failed(cs, err);
    for (size_t i = 0; st == CS_OK && i < n; i++) {
        st = write_locked(cs, &v[i], md5[i], now_ms, &res[i], err);
        if (st && n > 1) name_entry(err, i);
    }
    if (st == CS_OK && store_config_commit(cs->store)) st = store_failed(cs, err);
    if (st) store_config_rollback(cs->store);
    pthread_mutex_unlock(&cs->mu);
    return st;
}

enum cs_status cs_publish_many(struct cs_core *cs, const struct cs_publish *v, size_t n, const char *transport,
                               int64_t now_ms, struct cs_error *err)
{
    ok(err);
    for (size_t i = 0; i < n; i++)
        if (cs_publish_check(&v[i], err)) {
            name_entry(err, i);
            return err->status;
        }
    char (*md5)[33] = calloc(n ? n : 1, sizeof *md5);
    struct cs_publish_result *res = calloc(n ? n : 1, sizeof *res);
    enum cs_status st;
    if (!md5 || !res) {
        st = fail(err, CS_ERROR, "", true, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) md5_hex(v[i].content, v[i].content_len, md5[i]);
    st = write_all(cs, v, md5, n, now_ms, res, err);
    for (size_t i = 0; st == CS_OK && i < n; i++)
        if (res[i].changed)
            cs_changed(cs, "published", cs_namespace(v[i].key.tenant), v[i].key.group, v[i].key.data_id, md5[i], transport);
out:
    free(md5);
    free(res);
    return st;
}

enum cs_status cs_publish(struct cs_core *cs, const struct cs_publish *p, const char *transport, int64_t now_ms,
                          struct cs_publish_result *res, struct cs_error *err)
{
    struct cs_publish_result r = {0};
    if (cs_publish_check(p, err)) return err->status;
    char md5[1][33];
    md5_hex(p->content, p->content_len, md5[0]);
    enum cs_status st = write_all(cs, p, md5, 1, now_ms, &r, err);
    if (st) return st;
    if (res) *res = r;
    if (r.changed) cs_changed(cs, "published", cs_namespace(p->key.tenant), p->key.group, p->key.data_id, md5[0], transport);
    return CS_OK;
}

enum cs_status cs_remove(struct cs_core *cs, const struct cs_key *key, const char *tag, const char *src_ip,
                         const char *src_user, const char *transport, int64_t now_ms, bool *removed,
                         struct cs_error *err)
{
    if (removed) *removed = false;
    if (cs_key_check(key, err)) return err->status;
    if (!blank(tag)) return CS_OK;   /* a gray config never exists here */
    const char *ns = cs_namespace(key->tenant);
    enum cs_status st = CS_OK;
    int rc = 1;
    pthread_mutex_lock(&cs->mu);
    if (store_config_begin(cs->store) ||
        store_config_history_add(cs->store, ns, key->group, key->data_id, "D", src_ip, src_user, now_ms) ||
        (rc = store_config_delete(cs->store, ns, key->group, key->data_id)) < 0 || store_config_commit(cs->store)) {
        st = store_failed(cs, err);
        store_config_rollback(cs->store);
    }
    pthread_mutex_unlock(&cs->mu);
    if (st) return st;
    if (rc == 0) {
        if (removed) *removed = true;
        cs_changed(cs, "removed", ns, key->group, key->data_id, "", transport);
    }
    return CS_OK;
}

struct key_list {
    char **v;   /* ns, group, data_id triples */
    size_t n, cap;
    bool oom;
};

static int collect_key(void *ctx, const struct config_rec *r)
{
    struct key_list *k = ctx;
    const char *parts[] = {r->ns, r->group, r->data_id};
    for (int i = 0; i < 3; i++) {
        char *s = strdup(parts[i]);
        if (!s || util_grow((void **)&k->v, &k->cap, k->n, sizeof *k->v)) {
            free(s);
            k->oom = true;
            return 1;
        }
        k->v[k->n++] = s;
    }
    return 0;
}

enum cs_status cs_clear(struct cs_core *cs, const char *transport, struct cs_error *err)
{
    ok(err);
    struct key_list keys = {0};
    enum cs_status st = CS_OK;
    pthread_mutex_lock(&cs->mu);
    if (store_config_foreach(cs->store, collect_key, &keys) || keys.oom || store_config_begin(cs->store) ||
        store_config_clear(cs->store) || store_config_commit(cs->store)) {
        st = keys.oom ? fail(err, CS_ERROR, "", true, "out of memory") : store_failed(cs, err);
        store_config_rollback(cs->store);
    }
    pthread_mutex_unlock(&cs->mu);
    for (size_t i = 0; i + 2 < keys.n; i += 3) {
        if (st == CS_OK) cs_changed(cs, "removed", keys.v[i], keys.v[i + 1], keys.v[i + 2], "", transport);
        free(keys.v[i]);
        free(keys.v[i + 1]);
        free(keys.v[i + 2]);
    }
    free(keys.v);
    return st;
}

/* ---------------------------------------------------------------- reads */

enum cs_status cs_get(struct cs_core *cs, const struct cs_key *key, const char *tag, struct config_rec *out,
                      struct cs_error *err)
{
    memset(out, 0, sizeof *out);
    if (cs_key_check(key, err)) return err->status;
    if (!blank(tag)) return fail(err, CS_NOT_FOUND, "tag", true, "config data not exist");
    pthread_mutex_lock(&cs->mu);
    int rc = store_config_get(cs->store, cs_namespace(key->tenant), key->group, key->data_id, out);
    enum cs_status st = rc < 0 ? store_failed(cs, err) : CS_OK;
    pthread_mutex_unlock(&cs->mu);
    if (rc == 1) return fail(err, CS_NOT_FOUND, "", true, "config data not exist");
    return st;
}

void cs_config_free(struct config_rec *c) { store_config_rec_free(c); }

static enum cs_status check_page(long page_no, long page_size, struct cs_error *err)
{
    if (page_no < 1) return fail(err, CS_INVALID, "pageNo", true, "Param 'pageNo' must be at least 1, got %ld", page_no);
    if (page_size < 1 || page_size > CS_PAGE_SIZE_MAX)
        return fail(err, CS_INVALID, "pageSize", true, "Param 'pageSize' must be from 1 to %d, got %ld",
                    CS_PAGE_SIZE_MAX, page_size);
    return CS_OK;
}

enum cs_status cs_search(struct cs_core *cs, const struct cs_search *q, store_config_cb cb, void *ctx, long *total,
                         struct cs_error *err)
{
    ok(err);
    if (check_page(q->page_no, q->page_size, err)) return err->status;
    const char *ns = cs_namespace(q->tenant);
    if (strcmp(cs_namespace(q->tenant), CS_PUBLIC) && check_name(err, "tenant", "namespaceId/tenant", ns, CS_TENANT_MAX, ""))
        return err->status;
    struct config_filter f = {.ns = ns, .data_id = blank(q->data_id) ? NULL : q->data_id,
                              .group = blank(q->group) ? NULL : q->group,
                              .app_name = blank(q->app_name) ? NULL : q->app_name, .glob = q->blur};
    pthread_mutex_lock(&cs->mu);
    int rc = store_config_search(cs->store, &f, (q->page_no - 1) * q->page_size, q->page_size, cb, ctx, total);
    enum cs_status st = rc ? store_failed(cs, err) : CS_OK;
    pthread_mutex_unlock(&cs->mu);
    return st;
}

enum cs_status cs_foreach(struct cs_core *cs, store_config_cb cb, void *ctx, struct cs_error *err)
{
    ok(err);
    pthread_mutex_lock(&cs->mu);
    enum cs_status st = store_config_foreach(cs->store, cb, ctx) ? store_failed(cs, err) : CS_OK;
    pthread_mutex_unlock(&cs->mu);
    return st;
}

enum cs_status cs_history(struct cs_core *cs, const struct cs_key *key, long page_no, long page_size,
                          store_history_cb cb, void *ctx, long *total, struct cs_error *err)
{
    if (cs_key_check(key, err) || check_page(page_no, page_size, err)) return err->status;
    pthread_mutex_lock(&cs->mu);
    int rc = store_config_history(cs->store, cs_namespace(key->tenant), key->group, key->data_id,
                                  (page_no - 1) * page_size, page_size, cb, ctx, total);
    enum cs_status st = rc ? store_failed(cs, err) : CS_OK;
    pthread_mutex_unlock(&cs->mu);
    return st;
}

struct hist_match {
    const struct cs_key *key;
    store_history_cb cb;
    void *ctx;
    bool matched;
};

static int hist_if_key(void *ctx, const struct config_history_rec *h)
{
    struct hist_match *m = ctx;
    const struct cs_key *k = m->key;
    if (k && ((!blank(k->data_id) && strcmp(k->data_id, h->data_id)) || (!blank(k->group) && strcmp(k->group, h->group)) ||
              strcmp(cs_namespace(k->tenant), h->ns)))
        return 1;
    m->matched = true;
    return m->cb(m->ctx, h);
}

enum cs_status cs_history_get(struct cs_core *cs, int64_t nid, const struct cs_key *key, store_history_cb cb,
                              void *ctx, struct cs_error *err)
{
    ok(err);
    struct hist_match m = {key, cb, ctx, false};
    pthread_mutex_lock(&cs->mu);
    int rc = store_config_history_get(cs->store, nid, hist_if_key, &m);
    enum cs_status st = rc < 0 ? store_failed(cs, err) : CS_OK;
    pthread_mutex_unlock(&cs->mu);
    if (st == CS_OK && !m.matched) return fail(err, CS_NOT_FOUND, "nid", true, "history %lld does not exist", (long long)nid);
    return st;
}

/* ---------------------------------------------------------------- listening */

enum cs_status cs_compare(struct cs_core *cs, const struct cs_listen_key *keys, size_t n, bool *changed,
                          size_t *n_changed, struct cs_error *err)
{
    ok(err);
    size_t k = 0;
    enum cs_status st = CS_OK;
    pthread_mutex_lock(&cs->mu);
    for (size_t i = 0; i < n; i++) {
        char md5[33];
        if (store_config_md5(cs->store, cs_namespace(keys[i].tenant), keys[i].group, keys[i].data_id, md5) < 0) {
            st = store_failed(cs, err);
            break;
        }
        changed[i] = strcmp(keys[i].md5 ? keys[i].md5 : "", md5) != 0;
        k += changed[i];
    }
    pthread_mutex_unlock(&cs->mu);
    if (n_changed) *n_changed = k;
    return st;
}

enum cs_status cs_listen_batch(struct cs_core *cs, uint64_t conn, bool listen, const struct cs_listen_key *keys,
                               size_t n, bool *changed, size_t *n_changed, struct cs_error *err)
{
    ok(err);
    if (n_changed) *n_changed = 0;
    for (size_t i = 0; i < n; i++) {
        changed[i] = false;
        if (!listen) {
            cs_listen_conn_remove(cs->listen, conn, keys[i].data_id, keys[i].group, keys[i].tenant);
        } else if (cs_listen_conn_add(cs->listen, conn, keys[i].data_id, keys[i].group, keys[i].tenant) < 0) {
            return fail(err, CS_ERROR, "", true, "out of memory registering listener %zu", i);
        }
    }
    /* registered first, compared after: a change in between is both pushed and listed (harmless) */
    return listen ? cs_compare(cs, keys, n, changed, n_changed, err) : CS_OK;
}
