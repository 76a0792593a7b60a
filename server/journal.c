/*
 * journal.c — the bounded request journal (see journal.h).
 */
#include "nacos_mock/journal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/naming.h"
#include "nacos_mock/util.h"

/* A request's parameters, packed as n pairs "key\0value\0" and shared by every entry whose
 * parameters are byte for byte the same: a client's beats repeat theirs (the beat JSON included)
 * every few seconds, and a ring of 10,000 beats otherwise holds ~4 MB of copies, whose writing
 * evicts what the rest of a request needs from the caches (bench: beat throughput with the journal
 * on went 0.88 -> 0.97 of journal-off with the parameters cut short, 1.00 with 1,000 entries). */
struct pblock {
    struct pblock *next;     /* in its hash bucket */
    uint64_t hash;
    size_t len, n;           /* n == PB_RAW_JSON: data is one JSON object text (a gRPC request) */
    uint32_t refs;
    char data[];
};

#define PB_BUCKETS 16384u
#define PB_RAW_JSON SIZE_MAX
#define JOURNAL_CUT_FMT "... (%zu bytes)"
#define JOURNAL_CUT_ROOM 40

/* How many bytes of a value of n bytes the journal keeps (all of it, or a cut at a UTF-8 boundary). */
static size_t kept_len(const char *v, size_t n)
{
    if (n <= JOURNAL_VALUE_MAX) return n;
    size_t k = JOURNAL_VALUE_MAX;
    while (k && ((unsigned char)v[k] & 0xc0) == 0x80) k--;
    return k;
}

struct entry {
    uint64_t seq;
    int64_t time_ms;
    int status, port, node;
    double duration_ms;
    const char *method, *path, *api, *service, *ip, *drop, *fault, *transport, *conn;   /* into blob */
    struct pblock *params;   /* shared; rendered as JSON when queried */
    char *blob;
};

struct journal {
    pthread_mutex_t mu;
    struct entry *ring;
    size_t cap, head, n;     /* head: index of the oldest entry */
    uint64_t next_seq;
    struct pblock *pb[PB_BUCKETS];
};

/* With j->mu held: one more reference to the block equal to (data, len), made if new. */
static struct pblock *pblock_get(struct journal *j, const char *data, size_t len, size_t n)
{
    uint64_t h = util_fnv1a(data, len);
    struct pblock **b = &j->pb[h % PB_BUCKETS];
    for (struct pblock *p = *b; p; p = p->next) {
        if (p->hash == h && p->len == len && p->n == n && memcmp(p->data, data, len) == 0) {
            p->refs++;
            return p;
        }
    }
    struct pblock *p = malloc(sizeof *p + len);
    if (!p) return NULL;
    p->hash = h;
    p->len = len;
    p->n = n;
    p->refs = 1;
    memcpy(p->data, data, len);
    p->next = *b;
    *b = p;
    return p;
}

/* With j->mu held: drops a reference, freeing the block with its last one. */
static void pblock_put(struct journal *j, struct pblock *p)
{
    if (!p || --p->refs) return;
    for (struct pblock **l = &j->pb[p->hash % PB_BUCKETS]; *l; l = &(*l)->next) {
        if (*l == p) {
            *l = p->next;
            break;
        }
    }
    free(p);
}

struct journal *journal_create(size_t capacity)
{
    struct journal *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    j->cap = capacity;
    j->next_seq = 1;
    if (capacity && !(j->ring = calloc(capacity, sizeof *j->ring))) {
        free(j);
        return NULL;
    }
    return j;
}

static void clear_locked(struct journal *j)
{
    for (size_t i = 0; i < j->n; i++) {
        struct entry *e = &j->ring[(j->head + i) % j->cap];
        free(e->blob);
        pblock_put(j, e->params);
    }
    j->head = j->n = 0;
}

void journal_free(struct journal *j)
{
    if (!j) return;
    clear_locked(j);
    free(j->ring);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void journal_clear(struct journal *j)
{
    pthread_mutex_lock(&j->mu);
    clear_locked(j);
    pthread_mutex_unlock(&j->mu);
}

/* JSON string escaping into buf (with quotes); returns bytes written or what would be needed. */
static size_t json_str(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
#define PUT(c) do { if (o < cap) buf[o] = (c); o++; } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { PUT('\\'); PUT((char)*p); }
        else if (*p < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", *p);
            for (const char *c = u; *c; c++) PUT(*c);
        } else PUT((char)*p);
    }
    PUT('"');
#undef PUT
    return o;
}

/* The JSON object text of an entry's parameters (n pairs "key\0value\0" from `packed`). Caller frees;
 * NULL when out of memory. Done at query time: escaping on every request would cost each request more
 * than copying the strings does. */
static char *render_params(const char *packed, size_t n)
{
    size_t need = 3;
    const char *s = packed;
    for (size_t i = 0; i < 2 * n; i++, s += strlen(s) + 1) need += json_str(NULL, 0, s) + 1;
    char *b = malloc(need);
    if (!b) return NULL;
    size_t o = 0;
    b[o++] = '{';
    s = packed;
    for (size_t i = 0; i < n; i++) {
        if (i) b[o++] = ',';
        o += json_str(b + o, need - o, s);
        s += strlen(s) + 1;
        b[o++] = ':';
        o += json_str(b + o, need - o, s);
        s += strlen(s) + 1;
    }
    b[o++] = '}';
    b[o] = '\0';
    return b;
}

void journal_cut_strings(cJSON *o)
{
    for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
        if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            journal_cut_strings(c);
            continue;
        }
        if (!cJSON_IsString(c)) continue;
        size_t n = strlen(c->valuestring), keep = kept_len(c->valuestring, n);
        if (keep == n) continue;
        char *cut = malloc(keep + JOURNAL_CUT_ROOM);
        if (!cut) continue;
        memcpy(cut, c->valuestring, keep);
        snprintf(cut + keep, JOURNAL_CUT_ROOM, JOURNAL_CUT_FMT, n);
        cJSON_SetValuestring(c, cut);
        free(cut);
    }
}

uint64_t journal_record(struct journal *j, const struct journal_in *e)
{
    if (!j || !j->cap) return 0;
    const struct params *p = e->params_json ? NULL : e->params;
    size_t n_params = p ? p->n : 0;
    const char *strs[] = {e->method ? e->method : "", e->path ? e->path : "", e->api, e->service, e->ip, e->drop,
                          e->fault_id, e->transport ? e->transport : "http", e->connection_id};
    enum { N_STRS = sizeof strs / sizeof strs[0] };
    size_t plen = 0, total = 0;
    for (size_t i = 0; i < n_params; i++) {
        size_t vn = strlen(p->v[i].val);
        plen += strlen(p->v[i].key) + kept_len(p->v[i].val, vn) + (vn > JOURNAL_VALUE_MAX ? JOURNAL_CUT_ROOM : 0) + 2;
    }
    if (e->params_json) {
        plen = strlen(e->params_json) + 1;
        n_params = PB_RAW_JSON;
    }
    for (size_t i = 0; i < N_STRS; i++) total += strs[i] ? strlen(strs[i]) + 1 : 0;
    char stackbuf[2048];
    char *packed = plen <= sizeof stackbuf ? stackbuf : malloc(plen);
    char *blob = malloc(total);
    if (!packed || !blob) {
        if (packed != stackbuf) free(packed);
        free(blob);
        return 0;
    }
    char *w = packed;
    if (e->params_json) {
        memcpy(w, e->params_json, plen);
        w += plen;
    }
    for (size_t i = 0; !e->params_json && i < n_params; i++) {
        size_t kn = strlen(p->v[i].key) + 1, vn = strlen(p->v[i].val), keep = kept_len(p->v[i].val, vn);
        memcpy(w, p->v[i].key, kn);
        memcpy(w + kn, p->v[i].val, keep);
        w += kn + keep;
        if (keep < vn) w += snprintf(w, JOURNAL_CUT_ROOM, JOURNAL_CUT_FMT, vn);
        *w++ = '\0';
    }
    plen = (size_t)(w - packed);
    w = blob;
    const char *out[N_STRS];
    for (size_t i = 0; i < N_STRS; i++) {
        if (!strs[i]) { out[i] = NULL; continue; }
        size_t n = strlen(strs[i]) + 1;
        memcpy(w, strs[i], n);
        out[i] = w;
        w += n;
    }
    long long port = e->port;

    pthread_mutex_lock(&j->mu);
    struct pblock *pb = pblock_get(j, packed, plen, n_params);
    if (!pb) {
        pthread_mutex_unlock(&j->mu);
        if (packed != stackbuf) free(packed);
        free(blob);
        return 0;
    }
    size_t slot;
    if (j->n == j->cap) {   /* full: drop the oldest */
        slot = j->head;
        free(j->ring[slot].blob);
        pblock_put(j, j->ring[slot].params);
        j->head = (j->head + 1) % j->cap;
    } else {
        slot = (j->head + j->n) % j->cap;
        j->n++;
    }
    uint64_t seq = j->next_seq++;
    j->ring[slot] = (struct entry){.seq = seq, .time_ms = e->time_ms, .status = e->status, .port = (int)port,
                                   .node = e->node < 0 ? -1 : e->node,
                                   .duration_ms = e->duration_ms, .method = out[0], .path = out[1], .api = out[2],
                                   .service = out[3], .ip = out[4], .drop = out[5], .fault = out[6],
                                   .transport = out[7], .conn = out[8], .params = pb, .blob = blob};
    pthread_mutex_unlock(&j->mu);
    if (packed != stackbuf) free(packed);
    return seq;
}

static bool entry_matches(const struct entry *e, const struct journal_query *q)
{
    return e->seq > q->since && (!q->api || (e->api && !strcmp(q->api, e->api))) &&
           naming_service_matches(q->service, e->service) && (!q->ip || (e->ip && !strcmp(q->ip, e->ip))) &&
           (!q->port || q->port == e->port) && (!q->status || q->status == e->status) &&
           (!q->transport || !strcmp(q->transport, e->transport)) && (q->node < 0 || q->node == e->node);
}

cJSON *journal_query_json(struct journal *j, const struct journal_query *q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    long total = 0, seen = 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n; i++) total += entry_matches(&j->ring[(j->head + i) % j->cap], q);
    /* with `since`, the oldest `limit` after it (polling); without, the newest `limit` — oldest first either way */
    long skip = q->limit >= 0 && !q->since && total > q->limit ? total - q->limit : 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct entry *e = &j->ring[(j->head + i) % j->cap];
        if (!entry_matches(e, q)) continue;
        if (seen++ < skip) continue;
        if (q->limit >= 0 && seen - skip > q->limit) break;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "seq", (double)e->seq);
        cJSON_AddNumberToObject(r, "timeMs", (double)e->time_ms);
        cJSON_AddStringToObject(r, "method", e->method);
        cJSON_AddStringToObject(r, "path", e->path);
        if (e->api) cJSON_AddStringToObject(r, "api", e->api);
        else cJSON_AddNullToObject(r, "api");
        if (e->params->n == PB_RAW_JSON) {
            cJSON_AddRawToObject(r, "params", e->params->data);
        } else {
            char *pj = render_params(e->params->data, e->params->n);
            cJSON_AddRawToObject(r, "params", pj ? pj : "{}");
            free(pj);
        }
        if (e->status) cJSON_AddNumberToObject(r, "status", e->status);
        else cJSON_AddNullToObject(r, "status");
        if (e->drop) cJSON_AddStringToObject(r, "drop", e->drop);
        if (e->fault) cJSON_AddStringToObject(r, "fault", e->fault);
        else cJSON_AddNullToObject(r, "fault");
        cJSON_AddNumberToObject(r, "durationMs", (double)(long long)(e->duration_ms * 1000) / 1000.0);
        cJSON_AddStringToObject(r, "transport", e->transport);
        if (e->conn) cJSON_AddStringToObject(r, "connectionId", e->conn);
        if (e->node >= 0) cJSON_AddNumberToObject(r, "node", e->node);
        cJSON_AddItemToArray(arr, r);
    }
    pthread_mutex_unlock(&j->mu);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddItemToObject(o, "requests", arr);
    return o;
}
