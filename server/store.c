/*
 * store.c — the registry in SQLite (see store.h for invariants and ownership).
 *
 * Every statement is prepared once in store_open() from the STMT table below and reset after use.
 * The schema lives in one place (SCHEMA) and is versioned with PRAGMA user_version. `expire_at` is a
 * generated column — the virtual time the sweeper must next look at an ephemeral instance — with a
 * partial index, so a sweep touches only the instances that are due, never the whole table.
 */
#include "nacos_mock/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

#define SCHEMA_VERSION 1

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS services("
    "  id INTEGER PRIMARY KEY,"
    "  ns TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  protect_threshold REAL NOT NULL DEFAULT 0,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  selector TEXT NOT NULL DEFAULT '{\"type\":\"none\"}',"
    "  explicit INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  empty_since_ms INTEGER NOT NULL DEFAULT 0,"
    "  revision INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE(ns, name));"
    "CREATE TABLE IF NOT EXISTS instances("
    "  id INTEGER PRIMARY KEY,"
    "  service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"
    "  cluster TEXT NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL,"
    "  instance_id TEXT NOT NULL,"
    "  weight REAL NOT NULL, healthy INTEGER NOT NULL, enabled INTEGER NOT NULL,"
    "  ephemeral INTEGER NOT NULL, marked INTEGER NOT NULL DEFAULT 0,"
    "  metadata TEXT NOT NULL DEFAULT '{}', app TEXT,"
    "  registered_ms INTEGER NOT NULL, last_beat_ms INTEGER NOT NULL,"
    "  hb_interval_ms INTEGER NOT NULL, hb_timeout_ms INTEGER NOT NULL, delete_timeout_ms INTEGER NOT NULL,"
    "  expire_at INTEGER GENERATED ALWAYS AS (CASE WHEN ephemeral AND NOT marked THEN last_beat_ms +"
    "    CASE WHEN healthy THEN min(hb_timeout_ms, delete_timeout_ms) ELSE delete_timeout_ms END END) VIRTUAL,"
    "  UNIQUE(service_id, cluster, ip, port));"
    "CREATE INDEX IF NOT EXISTS instances_expire ON instances(expire_at) WHERE expire_at IS NOT NULL;";

#define INST_COLS                                                                                         \
    "i.id, i.service_id, s.ns, s.name, i.cluster, i.ip, i.port, i.instance_id, i.weight, i.healthy,"     \
    " i.enabled, i.ephemeral, i.marked, i.metadata, i.app, i.registered_ms, i.last_beat_ms,"               \
    " i.hb_interval_ms, i.hb_timeout_ms, i.delete_timeout_ms"
#define SVC_COLS "id, ns, name, protect_threshold, metadata, selector, explicit, created_ms, empty_since_ms, revision"

enum stmt_id {
    S_SVC_GET, S_SVC_INSERT, S_SVC_UPDATE, S_SVC_DELETE, S_SVC_LIST, S_SVC_COUNT, S_SVC_TOUCH,
    S_INST_FIND, S_INST_INSERT, S_INST_UPDATE, S_INST_GET, S_INST_DELETE, S_INST_BEAT_FIND, S_INST_BEAT,
    S_INST_BEAT_FLUSH,
    S_INST_SET_HEALTH, S_INST_DELETE_ID, S_INST_FOREACH, S_INST_EXPIRED, S_INST_ALL, S_INST_IDS,
    S_COUNTS, S_FORGET_SVCS, S_FORGET, S_CLEAR_INST, S_CLEAR_SVC, S_GC, S_BEGIN, S_COMMIT, S_ROLLBACK,
    S__COUNT
};

static const char *const STMT_SQL[S__COUNT] = {
    [S_SVC_GET] = "SELECT " SVC_COLS " FROM services WHERE ns=?1 AND name=?2",
    [S_SVC_INSERT] = "INSERT INTO services(ns, name, protect_threshold, metadata, selector, explicit, created_ms,"
                     " empty_since_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    [S_SVC_UPDATE] = "UPDATE services SET protect_threshold=?2, metadata=coalesce(?3, metadata),"
                     " selector=coalesce(?4, selector), revision=revision+1 WHERE id=?1",
    [S_SVC_DELETE] = "DELETE FROM services WHERE id=?1",
    [S_SVC_LIST] = "SELECT " SVC_COLS " FROM services WHERE (?1 IS NULL OR ns=?1)"
                   " AND (?2 IS NULL OR (name >= ?2 AND name < ?3)) ORDER BY ns, name LIMIT ?4 OFFSET ?5",
    [S_SVC_COUNT] = "SELECT count(*) FROM services WHERE (?1 IS NULL OR ns=?1)"
                    " AND (?2 IS NULL OR (name >= ?2 AND name < ?3))",
    [S_SVC_TOUCH] = "UPDATE services SET revision=max(revision+1, ?3), empty_since_ms=CASE"
                    " WHEN EXISTS(SELECT 1 FROM instances WHERE service_id=?1) THEN 0"
                    " WHEN empty_since_ms=0 THEN ?2 ELSE empty_since_ms END WHERE id=?1",
    [S_INST_FIND] = "SELECT id FROM instances WHERE service_id=?1 AND cluster=?2 AND ip=?3 AND port=?4",
    [S_INST_INSERT] = "INSERT INTO instances(service_id, cluster, ip, port, instance_id, weight, healthy, enabled,"
                      " ephemeral, marked, metadata, app, registered_ms, last_beat_ms, hb_interval_ms,"
                      " hb_timeout_ms, delete_timeout_ms)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [S_INST_UPDATE] = "UPDATE instances SET instance_id=coalesce(?5, instance_id), weight=?6, healthy=?7,"
                      " enabled=?8, ephemeral=?9, marked=?10, metadata=?11, app=?12, last_beat_ms=?14,"
                      " hb_interval_ms=?15, hb_timeout_ms=?16, delete_timeout_ms=?17 WHERE id=?18",
    [S_INST_GET] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                   " WHERE i.service_id=?1 AND i.cluster=?2 AND i.ip=?3 AND i.port=?4",
    [S_INST_DELETE] = "DELETE FROM instances WHERE service_id=?1 AND cluster=?2 AND ip=?3 AND port=?4"
                      " AND ephemeral=?5",
    [S_INST_BEAT_FIND] = "SELECT i.id, i.healthy, i.ephemeral, i.hb_interval_ms, i.service_id, i.last_beat_ms,"
                         " i.instance_id FROM instances i"
                         " WHERE i.service_id=(SELECT id FROM services WHERE ns=?1 AND name=?2)"
                         " AND i.cluster=?3 AND i.ip=?4 AND i.port=?5",
    [S_INST_BEAT] = "UPDATE instances SET last_beat_ms=?2, healthy=1 WHERE id=?1",
    [S_INST_BEAT_FLUSH] = "UPDATE instances SET last_beat_ms=max(last_beat_ms, ?2) WHERE id=?1 AND ephemeral",
    [S_INST_SET_HEALTH] = "UPDATE instances SET healthy=?2 WHERE id=?1",
    [S_INST_DELETE_ID] = "DELETE FROM instances WHERE id=?1",
    [S_INST_FOREACH] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                       " WHERE i.service_id=?1 ORDER BY i.healthy DESC, i.cluster, i.ip, i.port",
    [S_INST_EXPIRED] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                       " WHERE i.expire_at IS NOT NULL AND i.expire_at < ?1 ORDER BY i.expire_at LIMIT ?2",
    [S_INST_ALL] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                   " ORDER BY s.ns, s.name, i.cluster, i.ip, i.port",
    [S_INST_IDS] = "SELECT instance_id FROM instances WHERE service_id=?1",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM instances),"
                 " (SELECT count(*) FROM instances WHERE healthy)",
    [S_FORGET_SVCS] = "SELECT DISTINCT i.service_id FROM instances i JOIN services s ON s.id=i.service_id"
                      " WHERE i.ephemeral AND (?1 IS NULL OR s.ns=?1) AND (?2 IS NULL OR s.name=?2)",
    [S_FORGET] = "DELETE FROM instances WHERE ephemeral AND service_id=?1",
    [S_CLEAR_INST] = "DELETE FROM instances",
    [S_CLEAR_SVC] = "DELETE FROM services",
    [S_GC] = "DELETE FROM services WHERE NOT explicit AND empty_since_ms > 0 AND empty_since_ms < ?1"
             " AND NOT EXISTS(SELECT 1 FROM instances WHERE service_id=services.id)",
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

/*
 * The beat cache. A beat of a healthy ephemeral instance is by far the most frequent write, and in
 * SQLite it costs a lookup plus a one-row write transaction that also moves the row's expire_at
 * index entry (~40k instructions). So once a beat has found an instance healthy, the instance's
 * key is remembered with its row id, and later beats only record their time in memory ("pending").
 * Pending times are written in one transaction before any other statement runs (see S()): every
 * read and write of the registry sees them, the sweeper's due-query included, and a row id is
 * never reused while a pending time for it is outstanding. A write of an instance row (update,
 * health change, delete) drops its entry; bulk writes (service delete, forget, reset) invalidate
 * every entry (`inst_gen`). Either way the next beat takes the SQLite path again.
 * Ephemeral instances never outlive a restart (store_open drops them), so pending beat times need
 * no durability.
 */
#define BEAT_BUCKETS 4096u
#define BEAT_MAX_ENTRIES (1u << 18)
#define BEAT_MAX_PENDING 65536u

struct beat_entry {
    struct beat_entry *chain;     /* next with the same key hash bucket */
    struct beat_entry *id_chain;  /* next with the same row id bucket */
    uint64_t hash;
    uint64_t gen;                 /* inst_gen when made */
    int64_t id, service_id, interval_ms;
    int64_t last_beat_ms;         /* the last beat recorded (written or pending) */
    bool pending;                 /* last_beat_ms not yet written */
    size_t keylen, idlen;
    char *instance_id;            /* points into data after the key */
    char data[];                  /* key, then instance id (NUL-terminated) */
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S__COUNT];
    int64_t generation;   /* bumped whenever a service row goes (store_generation) */
    uint64_t inst_gen;    /* bumped by every write of an instance or service row (beat cache) */
    struct beat_entry *beat_bucket[BEAT_BUCKETS];   /* by key */
    struct beat_entry *beat_by_id[BEAT_BUCKETS];    /* by row id */
    size_t beat_entries;
    struct beat_entry **pending;   /* entries with a pending beat time */
    size_t n_pending, cap_pending;
    bool flushing;
};

/* Statements that change or delete many instance rows at once: they invalidate the whole beat
 * cache. A write of one row drops that row's entry instead (beat_drop_id); an insert creates a new
 * key, and the empty-service cleaner deletes only services without instances. */
static const bool WRITES_ROWS[S__COUNT] = {
    [S_SVC_DELETE] = true, [S_FORGET] = true, [S_CLEAR_INST] = true, [S_CLEAR_SVC] = true,
};

static void beat_flush(struct store *st);
static void beat_cache_clear(struct store *st);

/* Returns the statement, reset and with bindings cleared — after writing any pending beat times,
 * so that no statement ever sees the registry without them. */
static sqlite3_stmt *S(struct store *st, enum stmt_id id)
{
    if (st->n_pending && !st->flushing) beat_flush(st);
    if (WRITES_ROWS[id]) {   /* every entry is void: free them, or (a write failed) mark them stale */
        if (st->n_pending) st->inst_gen++;
        else beat_cache_clear(st);
    }
    sqlite3_stmt *s = st->stmt[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* Runs a statement that returns no rows. 0 ok, -1 error. */
static int run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Writes the pending beat times (in one transaction unless one is open). A failed write leaves
 * them pending for the next attempt. */
static void beat_flush(struct store *st)
{
    st->flushing = true;
    bool own = sqlite3_get_autocommit(st->db) != 0;
    if (own && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) goto out;
    size_t i = 0;
    for (; i < st->n_pending; i++) {
        struct beat_entry *e = st->pending[i];
        sqlite3_stmt *u = st->stmt[S_INST_BEAT_FLUSH];
        sqlite3_reset(u);
        sqlite3_bind_int64(u, 1, e->id);
        sqlite3_bind_int64(u, 2, e->last_beat_ms);
        if (run(u)) break;
    }
    if (i < st->n_pending) {
        if (own) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (own && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    for (i = 0; i < st->n_pending; i++) st->pending[i]->pending = false;
    st->n_pending = 0;
out:
    st->flushing = false;
}

/* ns \0 service \0 cluster \0 ip \0 port. Returns the length, 0 when it does not fit. */
static size_t beat_key(char *out, size_t outlen, const char *ns, const char *service, const char *cluster,
                       const char *ip, int port)
{
    int n = snprintf(out, outlen, "%s%c%s%c%s%c%s%c%d", ns, 0, service, 0, cluster, 0, ip, 0, port);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static struct beat_entry *beat_find(struct store *st, const char *key, size_t keylen, uint64_t h,
                                    struct beat_entry ***link)
{
    struct beat_entry **l = &st->beat_bucket[h % BEAT_BUCKETS];
    for (; *l; l = &(*l)->chain) {
        if ((*l)->hash == h && (*l)->keylen == keylen && memcmp((*l)->data, key, keylen) == 0) {
            if (link) *link = l;
            return *l;
        }
    }
    return NULL;
}

/* Unlinks and frees e (its pending time, if any, must have been written). */
static void beat_drop_entry(struct store *st, struct beat_entry *e)
{
    for (struct beat_entry **l = &st->beat_bucket[e->hash % BEAT_BUCKETS]; *l; l = &(*l)->chain)
        if (*l == e) { *l = e->chain; break; }
    for (struct beat_entry **l = &st->beat_by_id[(uint64_t)e->id % BEAT_BUCKETS]; *l; l = &(*l)->id_chain)
        if (*l == e) { *l = e->id_chain; break; }
    st->beat_entries--;
    free(e);
}

/* Forgets the cached beat of row `id` before that row is written. */
static void beat_drop_id(struct store *st, int64_t id)
{
    for (struct beat_entry *e = st->beat_by_id[(uint64_t)id % BEAT_BUCKETS]; e; e = e->id_chain) {
        if (e->id != id) continue;
        if (e->pending) beat_flush(st);
        if (e->pending) return;   /* could not be written: keep it (the row write will fail too) */
        beat_drop_entry(st, e);
        return;
    }
}

/* Drops every entry (pending times must have been written). */
static void beat_cache_clear(struct store *st)
{
    for (size_t b = 0; b < BEAT_BUCKETS; b++) {
        for (struct beat_entry *e = st->beat_bucket[b], *next; e; e = next) {
            next = e->chain;
            free(e);
        }
        st->beat_bucket[b] = NULL;
        st->beat_by_id[b] = NULL;
    }
    st->beat_entries = 0;
    st->n_pending = 0;
}

/* Remembers a healthy ephemeral instance a beat has just found (and written). Best effort. */
static void beat_remember(struct store *st, const char *key, size_t keylen, uint64_t h, int64_t id,
                          int64_t service_id, int64_t interval_ms, int64_t beat_ms, const char *instance_id)
{
    struct beat_entry *old = beat_find(st, key, keylen, h, NULL);
    if (old) {
        if (old->pending) return;   /* cannot happen: S() wrote it; keep it rather than lose it */
        beat_drop_entry(st, old);
    }
    if (st->beat_entries >= BEAT_MAX_ENTRIES) {
        if (st->n_pending) return;
        beat_cache_clear(st);
    }
    size_t idlen = strlen(instance_id);
    struct beat_entry *e = malloc(sizeof *e + keylen + idlen + 1);
    if (!e) return;
    e->hash = h;
    e->gen = st->inst_gen;
    e->id = id;
    e->service_id = service_id;
    e->interval_ms = interval_ms;
    e->last_beat_ms = beat_ms;
    e->pending = false;
    e->keylen = keylen;
    e->idlen = idlen;
    memcpy(e->data, key, keylen);
    e->instance_id = e->data + keylen;
    memcpy(e->instance_id, instance_id, idlen + 1);
    struct beat_entry **b = &st->beat_bucket[h % BEAT_BUCKETS];
    e->chain = *b;
    *b = e;
    struct beat_entry **bi = &st->beat_by_id[(uint64_t)id % BEAT_BUCKETS];
    e->id_chain = *bi;
    *bi = e;
    st->beat_entries++;
}

/* The in-memory beat: 0 when the cache answered (out filled), 1 when SQLite must. */
static int beat_cached(struct store *st, const char *key, size_t keylen, uint64_t h, int64_t now_ms,
                       struct beat_result *out)
{
    struct beat_entry *e = beat_find(st, key, keylen, h, NULL);
    if (!e || e->gen != st->inst_gen) return 1;
    if (!e->pending) {
        if (util_grow((void **)&st->pending, &st->cap_pending, st->n_pending, sizeof *st->pending)) return 1;
        st->pending[st->n_pending++] = e;
        e->pending = true;
    }
    if (out) {
        out->interval_ms = e->interval_ms;
        out->service_id = e->service_id;
        out->prev_beat_ms = e->last_beat_ms;
        out->was_unhealthy = false;
        size_t n = e->idlen < sizeof out->instance_id - 1 ? e->idlen : sizeof out->instance_id - 1;
        memcpy(out->instance_id, e->instance_id, n);
        out->instance_id[n] = '\0';
    }
    if (now_ms > e->last_beat_ms) e->last_beat_ms = now_ms;
    if (st->n_pending >= BEAT_MAX_PENDING) beat_flush(st);
    return 0;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st) { snprintf(err, errlen, "out of memory"); return NULL; }
    bool mem = !path || !*path || strcmp(path, ":memory:") == 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(mem ? ":memory:" : path, &st->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    if (!mem) {
        sqlite3_busy_timeout(st->db, 5000);
        if (exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, errlen)) goto fail;
    }
    /* In memory every write transaction copies each page it changes to the rollback journal, and every
     * b-tree edit moves bytes within a page: 1 KiB pages make a beat ~15% and a register ~10% cheaper
     * in SQLite (bench/README.md). A file database keeps the page size it was created with. */
    if (mem && exec(st->db, "PRAGMA page_size=1024;", err, errlen)) goto fail;
    if (exec(st->db, "PRAGMA foreign_keys=ON;", err, errlen)) goto fail;

    sqlite3_stmt *v = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK && sqlite3_step(v) == SQLITE_ROW)
        version = sqlite3_column_int(v, 0);
    sqlite3_finalize(v);
    if (version > SCHEMA_VERSION) {
        snprintf(err, errlen, "database %s has schema version %d, newer than this nacos-mock (%d)", path, version,
                 SCHEMA_VERSION);
        goto fail;
    }
    if (version < SCHEMA_VERSION) {
        char sql[64];
        if (exec(st->db, SCHEMA, err, errlen)) goto fail;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        if (exec(st->db, sql, err, errlen)) goto fail;
    }
    /* a restarted server has lost every ephemeral instance */
    if (exec(st->db, "DELETE FROM instances WHERE ephemeral", err, errlen)) goto fail;
    /* services that lost their last instance with the restart become empty now, so the empty-service
     * cleaner collects them like any other (the virtual clock starts at real time) */
    if (exec(st->db,
             "UPDATE services SET empty_since_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000"
             " WHERE empty_since_ms = 0 AND NOT EXISTS(SELECT 1 FROM instances WHERE service_id = services.id)",
             err, errlen))
        goto fail;

    for (int i = 0; i < S__COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "preparing statement %d: %s", i, sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    return st;
fail:
    store_close(st);
    return NULL;
}

void store_close(struct store *st)
{
    if (!st) return;
    if (st->n_pending && st->stmt[S_INST_BEAT_FLUSH]) beat_flush(st);
    beat_cache_clear(st);
    free(st->pending);
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

const char *store_errmsg(struct store *st) { return sqlite3_errmsg(st->db); }

int store_begin(struct store *st) { return run(S(st, S_BEGIN)); }
int store_commit(struct store *st) { return run(S(st, S_COMMIT)); }
void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db)) run(S(st, S_ROLLBACK));
}

/* ---------------------------------------------------------------- services */

static void svc_view(sqlite3_stmt *s, struct service_rec *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->ns = (char *)col_text(s, 1);
    r->name = (char *)col_text(s, 2);
    r->protect_threshold = sqlite3_column_double(s, 3);
    r->metadata = (char *)col_text(s, 4);
    r->selector = (char *)col_text(s, 5);
    r->explicit_ = sqlite3_column_int(s, 6) != 0;
    r->created_ms = sqlite3_column_int64(s, 7);
    r->empty_since_ms = sqlite3_column_int64(s, 8);
    r->revision = sqlite3_column_int64(s, 9);
}

int store_service_get(struct store *st, const char *ns, const char *name, struct service_rec *out)
{
    sqlite3_stmt *s = S(st, S_SVC_GET);
    bind_text(s, 1, ns);
    bind_text(s, 2, name);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) { sqlite3_reset(s); return 1; }
    if (rc != SQLITE_ROW) { sqlite3_reset(s); return -1; }
    struct service_rec v;
    svc_view(s, &v);
    *out = v;
    out->ns = strdup(v.ns);
    out->name = strdup(v.name);
    out->metadata = strdup(v.metadata);
    out->selector = strdup(v.selector);
    sqlite3_reset(s);
    if (!out->ns || !out->name || !out->metadata || !out->selector) {
        store_service_rec_free(out);
        return -1;
    }
    return 0;
}

void store_service_rec_free(struct service_rec *r)
{
    free(r->ns);
    free(r->name);
    free(r->metadata);
    free(r->selector);
    memset(r, 0, sizeof *r);
}

int store_service_create(struct store *st, const char *ns, const char *name, double protect_threshold,
                         const char *metadata, const char *selector, bool explicit_, int64_t now_ms, int64_t *id_out)
{
    sqlite3_stmt *s = S(st, S_SVC_INSERT);
    bind_text(s, 1, ns);
    bind_text(s, 2, name);
    sqlite3_bind_double(s, 3, protect_threshold);
    bind_text(s, 4, metadata ? metadata : "{}");
    bind_text(s, 5, selector ? selector : "{\"type\":\"none\"}");
    sqlite3_bind_int(s, 6, explicit_);
    sqlite3_bind_int64(s, 7, now_ms);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_CONSTRAINT) return 1;
    if (rc != SQLITE_DONE) return -1;
    if (id_out) *id_out = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int store_service_ensure(struct store *st, const char *ns, const char *name, int64_t now_ms, int64_t *id_out)
{
    sqlite3_stmt *s = S(st, S_SVC_GET);
    bind_text(s, 1, ns);
    bind_text(s, 2, name);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return -1;
    return store_service_create(st, ns, name, 0.0, NULL, NULL, false, now_ms, id_out) == 0 ? 0 : -1;
}

int store_service_update(struct store *st, int64_t id, double protect_threshold, const char *metadata,
                         const char *selector)
{
    sqlite3_stmt *s = S(st, S_SVC_UPDATE);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, protect_threshold);
    bind_text(s, 3, metadata);
    bind_text(s, 4, selector);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_service_delete(struct store *st, int64_t id)
{
    sqlite3_stmt *s = S(st, S_SVC_DELETE);
    sqlite3_bind_int64(s, 1, id);
    st->generation++;   /* before the write: a failed one may still have changed something */
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

/* Binds ?1 ns, ?2/?3 the [group@@, group@A) name range. `lo`/`hi` must outlive the statement step. */
static void bind_group_range(sqlite3_stmt *s, const char *ns, const char *group, char *lo, char *hi, size_t len)
{
    bind_text(s, 1, ns);
    if (group) {
        snprintf(lo, len, "%s@@", group);
        snprintf(hi, len, "%s@A", group);   /* '@' + 1 == 'A': every name with prefix group@@ sorts below */
        bind_text(s, 2, lo);
        bind_text(s, 3, hi);
    }
}

int store_service_list(struct store *st, const char *ns, const char *group, long offset, long limit,
                       store_service_cb cb, void *ctx, long *total)
{
    char lo[1100], hi[1100];
    if (total) {
        sqlite3_stmt *c = S(st, S_SVC_COUNT);
        bind_group_range(c, ns, group, lo, hi, sizeof lo);
        if (sqlite3_step(c) != SQLITE_ROW) { sqlite3_reset(c); return -1; }
        *total = (long)sqlite3_column_int64(c, 0);
        sqlite3_reset(c);
    }
    sqlite3_stmt *s = S(st, S_SVC_LIST);
    bind_group_range(s, ns, group, lo, hi, sizeof lo);
    sqlite3_bind_int64(s, 4, limit);
    sqlite3_bind_int64(s, 5, offset < 0 ? 0 : offset);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct service_rec v;
        svc_view(s, &v);
        if (cb(ctx, &v)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_service_touch(struct store *st, int64_t id, int64_t now_ms, int64_t stamp_ms)
{
    sqlite3_stmt *s = S(st, S_SVC_TOUCH);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms > 0 ? now_ms : 1);
    sqlite3_bind_int64(s, 3, stamp_ms);
    return run(s);
}

/* ---------------------------------------------------------------- instances */

static void inst_view(sqlite3_stmt *s, struct instance_rec *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->service_id = sqlite3_column_int64(s, 1);
    r->ns = col_text(s, 2);
    r->service = col_text(s, 3);
    r->cluster = col_text(s, 4);
    r->ip = col_text(s, 5);
    r->port = sqlite3_column_int(s, 6);
    r->instance_id = col_text(s, 7);
    r->weight = sqlite3_column_double(s, 8);
    r->healthy = sqlite3_column_int(s, 9) != 0;
    r->enabled = sqlite3_column_int(s, 10) != 0;
    r->ephemeral = sqlite3_column_int(s, 11) != 0;
    r->marked = sqlite3_column_int(s, 12) != 0;
    r->metadata = col_text(s, 13);
    r->app = sqlite3_column_type(s, 14) == SQLITE_NULL ? NULL : col_text(s, 14);
    r->registered_ms = sqlite3_column_int64(s, 15);
    r->last_beat_ms = sqlite3_column_int64(s, 16);
    r->hb_interval_ms = sqlite3_column_int64(s, 17);
    r->hb_timeout_ms = sqlite3_column_int64(s, 18);
    r->delete_timeout_ms = sqlite3_column_int64(s, 19);
    r->owned_ = NULL;
}

/* Copies a view's strings into one allocation owned by the record. */
static int inst_own(struct instance_rec *r)
{
    const char **f[] = {&r->ns, &r->service, &r->cluster, &r->ip, &r->instance_id, &r->metadata, &r->app};
    size_t total = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) total += *f[i] ? strlen(*f[i]) + 1 : 0;
    char *buf = malloc(total ? total : 1), *p = buf;
    if (!buf) return -1;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!*f[i]) continue;
        size_t n = strlen(*f[i]) + 1;
        memcpy(p, *f[i], n);
        *f[i] = p;
        p += n;
    }
    r->owned_ = buf;
    return 0;
}

void store_instance_rec_free(struct instance_rec *r)
{
    free(r->owned_);
    memset(r, 0, sizeof *r);
}

static void bind_instance(sqlite3_stmt *s, const struct instance_rec *in, bool with_id)
{
    sqlite3_bind_int64(s, 1, in->service_id);
    bind_text(s, 2, in->cluster);
    bind_text(s, 3, in->ip);
    sqlite3_bind_int(s, 4, in->port);
    bind_text(s, 5, in->instance_id);
    sqlite3_bind_double(s, 6, in->weight);
    sqlite3_bind_int(s, 7, in->healthy);
    sqlite3_bind_int(s, 8, in->enabled);
    sqlite3_bind_int(s, 9, in->ephemeral);
    sqlite3_bind_int(s, 10, in->marked);
    bind_text(s, 11, in->metadata ? in->metadata : "{}");
    bind_text(s, 12, in->app);
    sqlite3_bind_int64(s, 13, in->registered_ms);
    sqlite3_bind_int64(s, 14, in->last_beat_ms);
    sqlite3_bind_int64(s, 15, in->hb_interval_ms);
    sqlite3_bind_int64(s, 16, in->hb_timeout_ms);
    sqlite3_bind_int64(s, 17, in->delete_timeout_ms);
    (void)with_id;
}

int store_instance_write(struct store *st, const struct instance_rec *in, int64_t existing_id)
{
    if (existing_id > 0) {
        sqlite3_stmt *u = S(st, S_INST_UPDATE);
        beat_drop_id(st, existing_id);
        bind_instance(u, in, true);
        sqlite3_bind_int64(u, 18, existing_id);
        if (run(u)) return -1;
        return sqlite3_changes(st->db) == 1 ? 0 : -1;
    }
    if (!in->instance_id) return -1;
    sqlite3_stmt *s = S(st, S_INST_INSERT);
    bind_instance(s, in, false);
    return run(s);
}

/* Binds an instance key (service, cluster, ip, port) to ?1..?4. */
static void bind_key(sqlite3_stmt *s, int64_t service_id, const char *cluster, const char *ip, int port)
{
    sqlite3_bind_int64(s, 1, service_id);
    bind_text(s, 2, cluster);
    bind_text(s, 3, ip);
    sqlite3_bind_int(s, 4, port);
}

/* The row id of (service, cluster, ip, port) in *id, 0 when there is none. 0 ok, -1 error. */
static int find_instance_id(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                            int64_t *id)
{
    sqlite3_stmt *f = S(st, S_INST_FIND);
    bind_key(f, service_id, cluster, ip, port);
    int rc = sqlite3_step(f);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(f, 0) : 0;
    sqlite3_reset(f);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_instance_upsert(struct store *st, const struct instance_rec *in, bool *created)
{
    int64_t id = 0;
    if (find_instance_id(st, in->service_id, in->cluster, in->ip, in->port, &id)) return -1;
    if (created) *created = id == 0;
    return store_instance_write(st, in, id);
}

int store_instance_get(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                       struct instance_rec *out)
{
    sqlite3_stmt *s = S(st, S_INST_GET);
    bind_key(s, service_id, cluster, ip, port);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) { sqlite3_reset(s); return 1; }
    if (rc != SQLITE_ROW) { sqlite3_reset(s); return -1; }
    inst_view(s, out);
    int r = inst_own(out);
    sqlite3_reset(s);
    return r;
}

int store_instance_delete(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                          bool ephemeral)
{
    int64_t id = 0;
    if (find_instance_id(st, service_id, cluster, ip, port, &id)) return -1;
    if (id) beat_drop_id(st, id);
    sqlite3_stmt *s = S(st, S_INST_DELETE);
    bind_key(s, service_id, cluster, ip, port);
    sqlite3_bind_int(s, 5, ephemeral);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_instance_beat(struct store *st, const char *ns, const char *service, const char *cluster, const char *ip,
                        int port, int64_t now_ms, struct beat_result *out)
{
    char key[4096];
    size_t keylen = beat_key(key, sizeof key, ns, service, cluster, ip, port);
    uint64_t h = keylen ? util_fnv1a(key, keylen) : 0;
    if (keylen && beat_cached(st, key, keylen, h, now_ms, out) == 0) return 0;

    sqlite3_stmt *f = S(st, S_INST_BEAT_FIND);
    bind_text(f, 1, ns);
    bind_text(f, 2, service);
    bind_text(f, 3, cluster);
    bind_text(f, 4, ip);
    sqlite3_bind_int(f, 5, port);
    int rc = sqlite3_step(f);
    if (rc == SQLITE_DONE) { sqlite3_reset(f); return 1; }
    if (rc != SQLITE_ROW) { sqlite3_reset(f); return -1; }
    int64_t id = sqlite3_column_int64(f, 0);
    bool healthy = sqlite3_column_int(f, 1) != 0, ephemeral = sqlite3_column_int(f, 2) != 0;
    int64_t interval_ms = sqlite3_column_int64(f, 3), service_id = sqlite3_column_int64(f, 4);
    int64_t prev_ms = sqlite3_column_int64(f, 5);
    if (out) {
        out->interval_ms = interval_ms;
        out->service_id = service_id;
        out->prev_beat_ms = prev_ms;
        out->was_unhealthy = ephemeral && !healthy;
        snprintf(out->instance_id, sizeof out->instance_id, "%s", col_text(f, 6));
    }
    char *iid = ephemeral && keylen ? strdup(col_text(f, 6)) : NULL;
    sqlite3_reset(f);
    if (!ephemeral) return 0;   /* beats have no effect on persistent instances */
    sqlite3_stmt *u = S(st, S_INST_BEAT);
    sqlite3_bind_int64(u, 1, id);
    sqlite3_bind_int64(u, 2, now_ms);
    rc = run(u);
    if (rc == 0 && iid) beat_remember(st, key, keylen, h, id, service_id, interval_ms, now_ms, iid);
    free(iid);
    return rc;
}

int store_instance_set_health(struct store *st, int64_t id, bool healthy)
{
    sqlite3_stmt *s = S(st, S_INST_SET_HEALTH);
    beat_drop_id(st, id);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, healthy);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_instance_delete_id(struct store *st, int64_t id)
{
    sqlite3_stmt *s = S(st, S_INST_DELETE_ID);
    beat_drop_id(st, id);
    sqlite3_bind_int64(s, 1, id);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

static int foreach_rows(sqlite3_stmt *s, store_instance_cb cb, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct instance_rec v;
        inst_view(s, &v);
        if (cb(ctx, &v)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_instance_foreach(struct store *st, int64_t service_id, store_instance_cb cb, void *ctx)
{
    sqlite3_stmt *s = S(st, S_INST_FOREACH);
    sqlite3_bind_int64(s, 1, service_id);
    return foreach_rows(s, cb, ctx);
}

int store_instance_foreach_expired(struct store *st, int64_t now_ms, long limit, store_instance_cb cb, void *ctx)
{
    sqlite3_stmt *s = S(st, S_INST_EXPIRED);
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, limit);
    return foreach_rows(s, cb, ctx);
}

int store_instance_foreach_all(struct store *st, store_instance_cb cb, void *ctx)
{
    return foreach_rows(S(st, S_INST_ALL), cb, ctx);
}

int store_instance_next_numeric_id(struct store *st, int64_t service_id, long *out)
{
    sqlite3_stmt *s = S(st, S_INST_IDS);
    sqlite3_bind_int64(s, 1, service_id);
    size_t cap = 64, n = 0;
    unsigned char *used = calloc(cap, 1);
    if (!used) return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = col_text(s, 0);
        char *end = NULL;
        long v = strtol(t, &end, 10);
        if (!*t || *end || v < 0 || v > 1000000) continue;
        if ((size_t)v >= cap) {
            size_t ncap = (size_t)v * 2 + 1;
            unsigned char *nu = realloc(used, ncap);
            if (!nu) { free(used); sqlite3_reset(s); return -1; }
            memset(nu + cap, 0, ncap - cap);
            used = nu;
            cap = ncap;
        }
        used[v] = 1;
        n++;
    }
    sqlite3_reset(s);
    long id = 0;
    while ((size_t)id < cap && used[id]) id++;
    free(used);
    *out = id;
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_counts(struct store *st, long *services, long *instances, long *healthy)
{
    sqlite3_stmt *s = S(st, S_COUNTS);
    if (sqlite3_step(s) != SQLITE_ROW) { sqlite3_reset(s); return -1; }
    if (services) *services = (long)sqlite3_column_int64(s, 0);
    if (instances) *instances = (long)sqlite3_column_int64(s, 1);
    if (healthy) *healthy = (long)sqlite3_column_int64(s, 2);
    sqlite3_reset(s);
    return 0;
}

int store_forget_ephemeral(struct store *st, const char *ns, const char *service, int64_t now_ms,
                           store_service_id_cb cb, void *ctx, long *removed)
{
    sqlite3_stmt *s = S(st, S_FORGET_SVCS);
    bind_text(s, 1, ns);
    bind_text(s, 2, service);
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (util_grow((void **)&ids, &cap, n, sizeof *ids)) {
            free(ids);
            sqlite3_reset(s);
            return -1;
        }
        ids[n++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    long total = 0;
    for (size_t i = 0; rc == SQLITE_DONE && i < n; i++) {
        sqlite3_stmt *d = S(st, S_FORGET);
        sqlite3_bind_int64(d, 1, ids[i]);
        if (run(d)) { rc = SQLITE_ERROR; break; }
        total += sqlite3_changes(st->db);
        store_service_touch(st, ids[i], now_ms, 0);
        if (cb) cb(ctx, ids[i]);
    }
    free(ids);
    if (removed) *removed = total;
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_clear(struct store *st)
{
    st->generation++;
    return run(S(st, S_CLEAR_INST)) || run(S(st, S_CLEAR_SVC)) ? -1 : 0;
}

int store_gc_empty_services(struct store *st, int64_t cutoff_ms, long *removed)
{
    sqlite3_stmt *s = S(st, S_GC);
    sqlite3_bind_int64(s, 1, cutoff_ms);
    if (run(s)) { st->generation++; return -1; }
    int n = sqlite3_changes(st->db);
    if (n) st->generation++;
    if (removed) *removed = n;
    return 0;
}

int64_t store_generation(const struct store *st) { return st->generation; }
