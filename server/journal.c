/*
 * journal.c — the bounded request journal (see journal.h).
 */
#include "nacos_mock/journal.h"

#include <pthread.h>
#include <stdatomic.h>
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

/* Writers do not queue on one lock: a request takes its sequence number from an atomic counter and
 * writes slot (seq - 1) % cap under that slot's lock, one of SLOT_LOCKS striped over the ring (slots
 * next to each other, as concurrent requests get, have different locks); the shared-parameter table
 * is striped by hash the same way. A reader locks slot by slot. */
#define SLOT_LOCKS 256u
#define PB_STRIPES 64u
#define PB_PER_STRIPE (PB_BUCKETS / PB_STRIPES)

struct lock64 { pthread_mutex_t mu; } __attribute__((aligned(64)));

struct pstripe {
    pthread_mutex_t mu;
    struct pblock *b[PB_PER_STRIPE];
} __attribute__((aligned(64)));

struct journal {
    struct entry *ring;      /* slot k holds the entry of seq k + 1 (mod cap); seq 0 = empty */
    size_t cap;
    _Atomic uint64_t last_seq;   /* the last seq handed out */
    _Atomic uint64_t cleared;    /* entries up to this seq are gone (journal_clear) */
    struct lock64 locks[SLOT_LOCKS];
    struct pstripe ps[PB_STRIPES];
};

static pthread_mutex_t *slot_lock(struct journal *j, size_t slot) { return &j->locks[slot % SLOT_LOCKS].mu; }

/* One more reference to the block equal to (data, len), made if new (under its stripe's lock). */
static struct pblock *pblock_get(struct journal *j, const char *data, size_t len, size_t n)
{
    uint64_t h = util_fnv1a(data, len);
    struct pstripe *ps = &j->ps[h % PB_STRIPES];
    pthread_mutex_lock(&ps->mu);
    struct pblock **b = &ps->b[(h / PB_STRIPES) % PB_PER_STRIPE], *p;
    for (p = *b; p; p = p->next) {
        if (p->hash == h && p->len == len && p->n == n && memcmp(p->data, data, len) == 0) {
            p->refs++;
            goto out;
        }
    }
    if ((p = malloc(sizeof *p + len))) {
        p->hash = h;
        p->len = len;
        p->n = n;
        p->refs = 1;
        memcpy(p->data, data, len);
        p->next = *b;
        *b = p;
    }
out:
    pthread_mutex_unlock(&ps->mu);
    return p;
}

/* Drops a reference, freeing the block with its last one. */
static void pblock_put(struct journal *j, struct pblock *p)
{
    if (!p) return;
    struct pstripe *ps = &j->ps[p->hash % PB_STRIPES];
    pthread_mutex_lock(&ps->mu);
    if (--p->refs == 0) {
        for (struct pblock **l = &ps->b[(p->hash / PB_STRIPES) % PB_PER_STRIPE]; *l; l = &(*l)->next) {
            if (*l == p) {
                *l = p->next;
                break;
            }
        }
    } else {
        p = NULL;
    }
    pthread_mutex_unlock(&ps->mu);
    free(p);
}

static void entry_drop(struct journal *j, struct entry *e)
{
    free(e->blob);
    pblock_put(j, e->params);
    memset(e, 0, sizeof *e);
}

struct journal *journal_create(size_t capacity)
{
    struct journal *j = aligned_alloc(64, sizeof *j);
    if (!j) return NULL;
    memset(j, 0, sizeof *j);
    j->cap = capacity;
    if (capacity && !(j->ring = calloc(capacity, sizeof *j->ring))) {
        free(j);
        return NULL;
    }
    for (size_t i = 0; i < SLOT_LOCKS; i++) pthread_mutex_init(&j->locks[i].mu, NULL);
    for (size_t i = 0; i < PB_STRIPES; i++) pthread_mutex_init(&j->ps[i].mu, NULL);
    return j;
}

void journal_free(struct journal *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->cap; i++)
        if (j->ring[i].seq) entry_drop(j, &j->ring[i]);
    for (size_t i = 0; i < SLOT_LOCKS; i++) pthread_mutex_destroy(&j->locks[i].mu);
    for (size_t i = 0; i < PB_STRIPES; i++) pthread_mutex_destroy(&j->ps[i].mu);
    free(j->ring);
    free(j);
}

void journal_clear(struct journal *j)
{
    uint64_t upto = atomic_load(&j->last_seq);
    atomic_store(&j->cleared, upto);   /* readers skip them from now on; a late writer's too */
    for (size_t i = 0; i < j->cap; i++) {
        pthread_mutex_lock(slot_lock(j, i));
        struct entry old = {0};
        if (j->ring[i].seq && j->ring[i].seq <= upto) {
            old = j->ring[i];
            memset(&j->ring[i], 0, sizeof j->ring[i]);
        }
        pthread_mutex_unlock(slot_lock(j, i));
        if (old.seq) entry_drop(j, &old);
    }
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

    struct pblock *pb = pblock_get(j, packed, plen, n_params);
    if (packed != stackbuf) free(packed);
    if (!pb) {
        free(blob);
        return 0;
    }
    uint64_t seq = atomic_fetch_add(&j->last_seq, 1) + 1;
    size_t slot = (size_t)((seq - 1) % j->cap);
    struct entry e_new = {.seq = seq, .time_ms = e->time_ms, .status = e->status, .port = (int)port,
                          .node = e->node < 0 ? -1 : e->node,
                          .duration_ms = e->duration_ms, .method = out[0], .path = out[1], .api = out[2],
                          .service = out[3], .ip = out[4], .drop = out[5], .fault = out[6],
                          .transport = out[7], .conn = out[8], .params = pb, .blob = blob};
    struct entry old;
    pthread_mutex_lock(slot_lock(j, slot));
    if (j->ring[slot].seq < seq) {   /* else a writer a whole ring later got there first: ours is gone */
        old = j->ring[slot];
        j->ring[slot] = e_new;
    } else {
        old = e_new;
    }
    pthread_mutex_unlock(slot_lock(j, slot));
    if (old.seq) entry_drop(j, &old);
    return seq;
}

static bool entry_matches(const struct entry *e, const struct journal_query *q)
{
    return e->seq > q->since && (!q->api || (e->api && !strcmp(q->api, e->api))) &&
           naming_service_matches(q->service, e->service) && (!q->ip || (e->ip && !strcmp(q->ip, e->ip))) &&
           (!q->port || q->port == e->port) && (!q->status || q->status == e->status) &&
           (!q->transport || !strcmp(q->transport, e->transport)) && (q->node < 0 || q->node == e->node);
}

/* The entry of `seq` rendered as its JSON object (the caller holds its slot's lock). */
static cJSON *entry_json(const struct entry *e)
{
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
    return r;
}

cJSON *journal_query_json(struct journal *j, const struct journal_query *q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    uint64_t hi = atomic_load(&j->last_seq), lo = atomic_load(&j->cleared);
    if (j->cap && hi > j->cap && hi - j->cap > lo) lo = hi - j->cap;
    /* first the seqs that match, slot by slot; then the ones the limit keeps are rendered (an entry
     * overwritten in between is left out) */
    uint64_t *hits = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t seq = lo + 1; j->cap && seq <= hi; seq++) {
        size_t slot = (size_t)((seq - 1) % j->cap);
        pthread_mutex_lock(slot_lock(j, slot));
        bool m = j->ring[slot].seq == seq && entry_matches(&j->ring[slot], q);
        pthread_mutex_unlock(slot_lock(j, slot));
        if (m && util_grow((void **)&hits, &cap, n, sizeof *hits) == 0) hits[n++] = seq;
    }
    long total = (long)n;
    /* with `since`, the oldest `limit` after it (polling); without, the newest `limit` — oldest first either way */
    size_t skip = q->limit >= 0 && !q->since && total > q->limit ? (size_t)(total - q->limit) : 0;
    size_t end = q->limit >= 0 && n - skip > (size_t)q->limit ? skip + (size_t)q->limit : n;
    for (size_t i = skip; i < end; i++) {
        size_t slot = (size_t)((hits[i] - 1) % j->cap);
        pthread_mutex_lock(slot_lock(j, slot));
        if (j->ring[slot].seq == hits[i]) cJSON_AddItemToArray(arr, entry_json(&j->ring[slot]));
        pthread_mutex_unlock(slot_lock(j, slot));
    }
    free(hits);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddItemToObject(o, "requests", arr);
    return o;
}
