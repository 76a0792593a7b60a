/*
 * store.c — the registry in SQLite (see store.h for invariants and ownership).
 *
 * Every statement is prepared once in store_open() from the STMT table below and reset after use.
 * The schema lives in one place (SCHEMA) and is versioned with PRAGMA user_version.
 *
 * Two homes for instances behind one API: persistent instances are SQLite rows; ephemeral instances
 * live in memory (ephemeral.c — why is explained in ephemeral.h), with ids from EPH_ID_BASE up so an
 * id says where its instance is. A lookup by key asks memory first (SQLite only when the service has
 * persistent instances); an update that changes an instance's kind moves it; lists merge both in the
 * order the statements give; the sweeper only ever sees memory (persistent instances are never due).
 * Services live in both: a SQLite row each (what survives a restart) and an entry in memory (the
 * directory, read by every request; revision and empty-since time only there). Transactions span
 * SQLite and the shards they touch: memory writes inside one keep an undo log per shard.
 *
 * Locking (store.h): each memory shard has its own lock; a thread's holdings are kept per thread
 * (`tl`, below) so that calls inside one transaction, or nested calls, never lock a shard twice.
 */
#include "nacos_mock/store.h"

#include <stdatomic.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/ephemeral.h"
#include "nacos_mock/util.h"

#define SCHEMA_VERSION 4

/* The config center's tables (version 3): the current configs and their change history. */
#define CONFIG_TABLES                                                                                     \
    "CREATE TABLE IF NOT EXISTS config("                                                                  \
    "  id INTEGER PRIMARY KEY,"                                                                           \
    "  ns TEXT NOT NULL, grp TEXT NOT NULL, data_id TEXT NOT NULL,"                                       \
    "  content TEXT NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'text',"                      \
    "  app_name TEXT NOT NULL DEFAULT '', descr TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '',"  \
    "  encrypted_data_key TEXT NOT NULL DEFAULT '', src_user TEXT NOT NULL DEFAULT '',"                   \
    "  src_ip TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,"        \
    "  UNIQUE(ns, grp, data_id));"                                                                        \
    "CREATE TABLE IF NOT EXISTS config_history("                                                          \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"                                                             \
    "  ns TEXT NOT NULL, grp TEXT NOT NULL, data_id TEXT NOT NULL, app_name TEXT NOT NULL,"              \
    "  content TEXT NOT NULL, md5 TEXT NOT NULL, encrypted_data_key TEXT NOT NULL, size INTEGER NOT NULL," \
    "  src_ip TEXT NOT NULL, src_user TEXT NOT NULL, op_type TEXT NOT NULL,"                              \
    "  created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL);"                                       \
    "CREATE INDEX IF NOT EXISTS config_history_key ON config_history(ns, grp, data_id, id);"

static const char CONFIG_SCHEMA[] = CONFIG_TABLES;

/* Version 4: the highest change stamp handed out, kept across restarts (revisions live in memory). */
#define META_TABLE "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"

static const char SCHEMA[] =
    CONFIG_TABLES
    META_TABLE
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
    "  UNIQUE(service_id, cluster, ip, port));";

/* Version 1 kept ephemeral instances in the table too, with a generated due time and its index for
 * the sweeper; those instances are dropped at open anyway, and the sweeper now reads memory. */
static const char MIGRATE_1_TO_2[] =
    "BEGIN;"
    "DROP INDEX IF EXISTS instances_expire;"
    "ALTER TABLE instances DROP COLUMN expire_at;"
    "PRAGMA user_version=2;"
    "COMMIT;";

/* Version 3 added the config center's tables. */
static const char MIGRATE_2_TO_3[] =
    "BEGIN;"
    CONFIG_TABLES
    "PRAGMA user_version=3;"
    "COMMIT;";

/* Version 4 keeps the change-stamp floor (revisions no longer go to SQLite). */
static const char MIGRATE_3_TO_4[] =
    "BEGIN;"
    META_TABLE
    "PRAGMA user_version=4;"
    "COMMIT;";

#define INST_COLS                                                                                         \
    "i.id, i.service_id, s.ns, s.name, i.cluster, i.ip, i.port, i.instance_id, i.weight, i.healthy,"     \
    " i.enabled, i.ephemeral, i.marked, i.metadata, i.app, i.registered_ms, i.last_beat_ms,"               \
    " i.hb_interval_ms, i.hb_timeout_ms, i.delete_timeout_ms"
#define SVC_COLS "id, ns, name, protect_threshold, metadata, selector, explicit, created_ms, empty_since_ms, revision"

enum stmt_id {
    S_SVC_INSERT, S_SVC_UPDATE, S_SVC_DELETE, S_SVC_LIST, S_SVC_COUNT, S_META_FLOOR,
    S_INST_FIND, S_INST_INSERT, S_INST_UPDATE, S_INST_GET, S_INST_GET_ID, S_INST_DELETE, S_INST_BEAT_FIND,
    S_INST_SET_HEALTH, S_INST_DELETE_ID, S_INST_FOREACH, S_INST_ALL, S_INST_IDS,
    S_COUNTS, S_CLEAR_INST, S_CLEAR_SVC, S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_REG__COUNT,   /* the registry connection prepares the statements above, the config connection those below */
    S_CFG_MD5, S_CFG_GET, S_CFG_UPDATE, S_CFG_INSERT, S_CFG_DELETE, S_CFG_HIST_ADD, S_CFG_HIST_PRUNE,
    S_CFG_SEARCH, S_CFG_COUNT, S_CFG_ALL, S_CFG_CLEAR, S_CFG_CLEAR_HIST, S_CFG_HIST_LIST, S_CFG_HIST_COUNT,
    S_CFG_HIST_GET, S_CFG_BEGIN, S_CFG_COMMIT, S_CFG_ROLLBACK,
    S__COUNT
};

#define CFG_KEY " ns=?1 AND grp=?2 AND data_id=?3"
#define CFG_COLS                                                                                          \
    "id, ns, grp, data_id, content, md5, type, app_name, descr, tags, encrypted_data_key, src_user, src_ip," \
    " created_ms, modified_ms"
#define HIST_COLS                                                                                         \
    "id, ns, grp, data_id, app_name, content, md5, encrypted_data_key, src_ip, src_user, op_type, created_ms," \
    " modified_ms"
#define CFG_FILTER                                                                                        \
    " WHERE (?1 IS NULL OR ns=?1) AND (?2 IS NULL OR CASE WHEN ?5 THEN data_id GLOB ?2 ELSE data_id=?2 END)" \
    " AND (?3 IS NULL OR CASE WHEN ?5 THEN grp GLOB ?3 ELSE grp=?3 END) AND (?4 IS NULL OR app_name=?4)"

static const char *const STMT_SQL[S__COUNT] = {
    [S_SVC_INSERT] = "INSERT INTO services(id, ns, name, protect_threshold, metadata, selector, explicit, created_ms,"
                     " empty_since_ms) VALUES(?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    [S_SVC_UPDATE] = "UPDATE services SET protect_threshold=?2, metadata=coalesce(?3, metadata),"
                     " selector=coalesce(?4, selector) WHERE id=?1",
    [S_SVC_DELETE] = "DELETE FROM services WHERE id=?1",
    [S_SVC_LIST] = "SELECT " SVC_COLS " FROM services WHERE (?1 IS NULL OR ns=?1)"
                   " AND (?2 IS NULL OR (name >= ?2 AND name < ?3)) ORDER BY ns, name LIMIT ?4 OFFSET ?5",
    [S_SVC_COUNT] = "SELECT count(*) FROM services WHERE (?1 IS NULL OR ns=?1)"
                    " AND (?2 IS NULL OR (name >= ?2 AND name < ?3))",
    [S_META_FLOOR] = "INSERT INTO meta(k, v) VALUES('stamp_floor', ?1) ON CONFLICT(k) DO UPDATE SET v=max(v, ?1)",
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
    [S_INST_GET_ID] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id WHERE i.id=?1",
    [S_INST_DELETE] = "DELETE FROM instances WHERE service_id=?1 AND cluster=?2 AND ip=?3 AND port=?4"
                      " AND ephemeral=?5",
    [S_INST_BEAT_FIND] = "SELECT i.id, i.healthy, i.ephemeral, i.hb_interval_ms, i.service_id, i.last_beat_ms,"
                         " i.instance_id FROM instances i"
                         " WHERE i.service_id=(SELECT id FROM services WHERE ns=?1 AND name=?2)"
                         " AND i.cluster=?3 AND i.ip=?4 AND i.port=?5",
    [S_INST_SET_HEALTH] = "UPDATE instances SET healthy=?2 WHERE id=?1",
    [S_INST_DELETE_ID] = "DELETE FROM instances WHERE id=?1 RETURNING service_id",
    [S_INST_FOREACH] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                       " WHERE i.service_id=?1 ORDER BY i.healthy DESC, i.cluster, i.ip, i.port",
    [S_INST_ALL] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                   " ORDER BY s.ns, s.name, i.cluster, i.ip, i.port",
    [S_INST_IDS] = "SELECT instance_id FROM instances WHERE service_id=?1",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM instances),"
                 " (SELECT count(*) FROM instances WHERE healthy)",
    [S_CLEAR_INST] = "DELETE FROM instances",
    [S_CLEAR_SVC] = "DELETE FROM services",
    /* IMMEDIATE: with a file, the config connection writes the same database; a deferred transaction
     * that read first could not upgrade after the other connection committed (SQLITE_BUSY_SNAPSHOT) */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_CFG_MD5] = "SELECT md5 FROM config WHERE" CFG_KEY,
    [S_CFG_GET] = "SELECT " CFG_COLS " FROM config WHERE" CFG_KEY,
    [S_CFG_UPDATE] = "UPDATE config SET content=?4, md5=?5, type=?6, app_name=?7, descr=?8, tags=?9,"
                     " encrypted_data_key=?10, src_user=?11, src_ip=?12, modified_ms=?13 WHERE" CFG_KEY,
    [S_CFG_INSERT] = "INSERT INTO config(ns, grp, data_id, content, md5, type, app_name, descr, tags,"
                     " encrypted_data_key, src_user, src_ip, created_ms, modified_ms)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    [S_CFG_DELETE] = "DELETE FROM config WHERE" CFG_KEY,
    [S_CFG_HIST_ADD] = "INSERT INTO config_history(ns, grp, data_id, app_name, content, md5, encrypted_data_key, size,"
                       " src_ip, src_user, op_type, created_ms, modified_ms)"
                       " SELECT ns, grp, data_id, app_name, content, md5, encrypted_data_key,"
                       " length(CAST(content AS BLOB)), ?4, ?5, ?6, ?7, ?7 FROM config WHERE" CFG_KEY,
    /* beyond the newest ?4 entries, or past ?5 bytes of content counted from the newest (which stays) */
    [S_CFG_HIST_PRUNE] = "DELETE FROM config_history WHERE id IN (SELECT id FROM (SELECT id,"
                         " row_number() OVER w AS rn, sum(size) OVER w AS total FROM config_history WHERE" CFG_KEY
                         " WINDOW w AS (ORDER BY id DESC)) WHERE rn > ?4 OR (rn > 1 AND total > ?5))",
    [S_CFG_SEARCH] = "SELECT " CFG_COLS " FROM config" CFG_FILTER " ORDER BY id LIMIT ?6 OFFSET ?7",
    [S_CFG_COUNT] = "SELECT count(*) FROM config" CFG_FILTER,
    [S_CFG_ALL] = "SELECT " CFG_COLS " FROM config ORDER BY ns, grp, data_id",
    [S_CFG_CLEAR] = "DELETE FROM config",
    [S_CFG_CLEAR_HIST] = "DELETE FROM config_history",
    [S_CFG_HIST_LIST] = "SELECT " HIST_COLS " FROM config_history WHERE" CFG_KEY " ORDER BY id DESC LIMIT ?4 OFFSET ?5",
    [S_CFG_HIST_COUNT] = "SELECT count(*) FROM config_history WHERE" CFG_KEY,
    [S_CFG_HIST_GET] = "SELECT " HIST_COLS " FROM config_history WHERE id=?1",
    [S_CFG_BEGIN] = "BEGIN IMMEDIATE",
    [S_CFG_COMMIT] = "COMMIT",
    [S_CFG_ROLLBACK] = "ROLLBACK",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S__COUNT];
    bool mem;                      /* :memory: (nothing to keep across restarts) */
    struct eph *eph;               /* the directory and the ephemeral instances, in shards (ephemeral.h) */
    _Atomic int64_t generation;    /* bumped whenever a service row goes (store_generation) */
    _Atomic int64_t stamp_floor;   /* the highest change stamp handed out (store_stamp_*) */
    /* under app->mu (the callers that create, delete or look services up by id hold it): */
    int64_t floor_saved;           /* the floor last written to the meta table */
    int64_t next_service_id;
    uint8_t *id_shard;             /* service id -> its shard + 1 (0: unknown); a service's shard never changes */
    size_t id_cap;
    bool (*held)(const void *ctx); /* does this thread hold app->mu? (store_set_lock_probe) */
    const void *held_ctx;
};

/* ---------------------------------------------------------------- what this thread holds */

/* The shards this thread has locked in one store (a bit each): those of its open transaction (kept
 * until commit or rollback) and the one a single call is using. `alone`: a transaction of one service
 * without app->mu (store_begin_service) — SQLite and other shards are refused (STORE_SLOW). Per
 * thread, keyed by the store, so two servers in one process (tests) stay apart. */
struct holding {
    const struct store *st;
    uint32_t shards;
    bool txn, alone, sql;
};
static _Thread_local struct holding tl;

_Static_assert(EPH_SHARDS <= 32, "a thread's shard set is a 32-bit mask");
_Static_assert(EPH_SHARDS == STORE_SHARDS, "store.h tells the sweeper how many shards there are");

/* Shard k for the current call: locked unless this thread holds it already (then *temp stays false);
 * inside a transaction it stays locked until the transaction ends (and its writes keep an undo log),
 * else the call releases it with leave(). NULL: an alone transaction may not take another shard. */
static struct eph_shard *enter(struct store *st, unsigned k, bool *temp)
{
    struct eph_shard *s = eph_shard(st->eph, k);
    *temp = false;
    if (tl.st != st) {
        if (tl.shards) abort();   /* one store's shards at a time */
        tl = (struct holding){.st = st};
    }
    uint32_t bit = 1u << k;
    if (tl.shards & bit) return s;
    if (tl.txn && tl.alone) return NULL;
    eph_lock(s);
    tl.shards |= bit;
    if (tl.txn) eph_begin(s);
    else *temp = true;
    return s;
}

static void leave(struct eph_shard *s, bool temp)
{
    if (!temp) return;
    tl.shards &= ~(1u << eph_shard_index(s));
    eph_unlock(s);
}

/* SQLite (and the id-to-shard table) may not be used: this thread is in an alone transaction, or
 * does not hold app->mu. */
static bool sql_refused(const struct store *st)
{
    return (tl.st == st && tl.txn && tl.alone) || (st->held && !st->held(st->held_ctx));
}

void store_set_lock_probe(struct store *st, bool (*held)(const void *ctx), const void *ctx)
{
    st->held = held;
    st->held_ctx = ctx;
}

static void id_shard_set(struct store *st, int64_t id, unsigned k)
{
    if (id <= 0) return;
    if ((size_t)id >= st->id_cap) {
        size_t cap = st->id_cap ? st->id_cap : 1024;
        while (cap <= (size_t)id) cap *= 2;
        uint8_t *v = realloc(st->id_shard, cap);
        if (!v) return;   /* looked up by id, the service then reads as unknown */
        memset(v + st->id_cap, 0, cap - st->id_cap);
        st->id_shard = v;
        st->id_cap = cap;
    }
    st->id_shard[id] = (uint8_t)(k + 1);
}

/* Service `id` in its shard, entered (release with leave(*sh, *temp)). NULL with *rc: 1 unknown (no
 * shard is held then), STORE_SLOW (an alone transaction meeting a service of another shard). */
static struct eph_svc *enter_service(struct store *st, int64_t id, struct eph_shard **sh, bool *temp, int *rc)
{
    *sh = NULL;
    *temp = false;
    unsigned k;
    if (tl.st == st && tl.txn && tl.alone) {
        k = (unsigned)__builtin_ctz(tl.shards);   /* its one shard: the service is there or not ours */
    } else if (sql_refused(st)) {
        *rc = STORE_SLOW;   /* the table is app->mu's */
        return NULL;
    } else if (id > 0 && (size_t)id < st->id_cap && st->id_shard[id]) {
        k = st->id_shard[id] - 1u;
    } else {
        *rc = 1;
        return NULL;
    }
    struct eph_shard *s = enter(st, k, temp);
    if (!s) {
        *rc = STORE_SLOW;
        return NULL;
    }
    struct eph_svc *v = eph_svc_get_id(s, id);
    if (!v) {
        leave(s, *temp);
        *temp = false;
        *rc = sql_refused(st) ? STORE_SLOW : 1;
        return NULL;
    }
    *sh = s;
    return v;
}

/* The registry's one source of change stamps (store.h, "Change stamps"). */
int64_t store_stamp_next(struct store *st, int64_t real_ms)
{
    int64_t cur = atomic_load(&st->stamp_floor), next;
    do next = real_ms > cur ? real_ms : cur + 1;
    while (!atomic_compare_exchange_weak(&st->stamp_floor, &cur, next));
    return next;
}

int64_t store_stamp_peek(struct store *st, int64_t real_ms)
{
    int64_t cur = atomic_load(&st->stamp_floor);
    while (real_ms > cur && !atomic_compare_exchange_weak(&st->stamp_floor, &cur, real_ms)) {}
    return real_ms > cur ? real_ms : cur;
}

/* A service row goes (deleted, cleared, collected): caches must not meet its old entries again, and
 * whatever the service answers next must carry a stamp above every stamp it had. */
static void service_rows_gone(struct store *st)
{
    atomic_fetch_add(&st->generation, 1);
    atomic_fetch_add(&st->stamp_floor, 1);
}

/* Returns the statement, reset and with bindings cleared. Reaching one without the right (an alone
 * transaction, or app->mu not held) is a bug that would race: it stops the process. */
static sqlite3_stmt *S(struct store *st, enum stmt_id id)
{
    if (sql_refused(st)) abort();
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

/* Opens path (NULL, "" or ":memory:": a private in-memory database; *mem says which) into *db: a
 * file in WAL mode with a busy timeout. 0, or -1 with err (*db may still need closing). */
static int open_db(const char *path, sqlite3 **db, bool *mem, char *err, size_t errlen)
{
    *mem = !path || !*path || strcmp(path, ":memory:") == 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(*mem ? ":memory:" : path, db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        return -1;
    }
    if (*mem) return 0;
    sqlite3_busy_timeout(*db, 5000);
    return exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, errlen);
}

/* Prepares STMT_SQL[from..to) into stmt[from..to). 0, or -1 with err. */
static int prepare_range(sqlite3 *db, sqlite3_stmt **stmt, int from, int to, char *err, size_t errlen)
{
    for (int i = from; i < to; i++) {
        if (sqlite3_prepare_v3(db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "preparing statement %d: %s", i, sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

/* The services of the database into the directory, with their persistent instance counts; the
 * next service id after the highest; the stamp floor above every stamp an earlier run handed out. */
static int load_services(struct store *st, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT s.id, s.ns, s.name, s.protect_threshold, s.metadata, s.selector, s.explicit,"
                           " s.created_ms, s.empty_since_ms,"
                           " (SELECT count(*) FROM instances i WHERE i.service_id=s.id) FROM services s",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    int rc;
    int64_t max_id = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        const char *ns = col_text(q, 1), *name = col_text(q, 2);
        /* revision 0: after a restart no state seen before is current (the ephemeral instances are
         * gone), so lists answer fresh stamps (above the floor) until the next change */
        struct eph_svc_attrs a = {
            .protect_threshold = sqlite3_column_double(q, 3), .metadata = col_text(q, 4), .selector = col_text(q, 5),
            .explicit_ = sqlite3_column_int(q, 6) != 0, .created_ms = sqlite3_column_int64(q, 7),
            .empty_since_ms = sqlite3_column_int64(q, 8), .n_persistent = (long)sqlite3_column_int64(q, 9),
        };
        unsigned k = eph_shard_of(ns, name);
        if (eph_svc_add(eph_shard(st->eph, k), id, ns, name, &a)) {
            sqlite3_finalize(q);
            snprintf(err, errlen, "out of memory loading the services");
            return -1;
        }
        id_shard_set(st, id, k);
        if (id > max_id) max_id = id;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) goto fail;
    st->next_service_id = max_id + 1;
    /* a database file carries the stamps of an earlier run: the first new one must be above them */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT max(coalesce((SELECT max(revision) FROM services), 0),"
                           " coalesce((SELECT v FROM meta WHERE k='stamp_floor'), 0))",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(q) == SQLITE_ROW) atomic_store(&st->stamp_floor, sqlite3_column_int64(q, 0));
    sqlite3_finalize(q);
    st->floor_saved = atomic_load(&st->stamp_floor);
    return 0;
fail:
    snprintf(err, errlen, "loading the services: %s", sqlite3_errmsg(st->db));
    return -1;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st || !(st->eph = eph_new())) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (open_db(path, &st->db, &st->mem, err, errlen)) goto fail;
    /* In memory every write transaction copies each page it changes to the rollback journal, and every
     * b-tree edit moves bytes within a page: 1 KiB pages make a beat ~15% and a register ~10% cheaper
     * in SQLite (bench/README.md). A file database keeps the page size it was created with. */
    if (st->mem && exec(st->db, "PRAGMA page_size=1024;", err, errlen)) goto fail;
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
    if (version == 1) {
        if (exec(st->db, MIGRATE_1_TO_2, err, errlen)) goto fail;
        version = 2;
    }
    if (version == 2) {
        if (exec(st->db, MIGRATE_2_TO_3, err, errlen)) goto fail;
        version = 3;
    }
    if (version == 3 && exec(st->db, MIGRATE_3_TO_4, err, errlen)) goto fail;
    if (version == 0) {
        char sql[64];
        if (exec(st->db, SCHEMA, err, errlen)) goto fail;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        if (exec(st->db, sql, err, errlen)) goto fail;
    }
    /* a restarted server has lost every ephemeral instance; the services that have no persistent one
     * become empty now, so the empty-service cleaner collects them like any other (the virtual clock
     * starts at real time; empty-since times are kept in memory only, so the stored ones are stale) */
    if (exec(st->db, "DELETE FROM instances WHERE ephemeral", err, errlen)) goto fail;
    if (exec(st->db,
             "UPDATE services SET empty_since_ms = CASE WHEN EXISTS(SELECT 1 FROM instances WHERE service_id ="
             " services.id) THEN 0 ELSE CAST(strftime('%s', 'now') AS INTEGER) * 1000 END",
             err, errlen))
        goto fail;
    if (prepare_range(st->db, st->stmt, 0, S_REG__COUNT, err, errlen)) goto fail;
    if (load_services(st, err, errlen)) goto fail;
    return st;
fail:
    store_close(st);
    return NULL;
}

int store_save_stamps(struct store *st)
{
    int64_t floor = atomic_load(&st->stamp_floor);
    if (st->mem || floor == st->floor_saved) return 0;
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *s = S(st, S_META_FLOOR);
    sqlite3_bind_int64(s, 1, floor);
    if (run(s)) return -1;
    st->floor_saved = floor;
    return 0;
}

void store_close(struct store *st)
{
    if (!st) return;
    st->held = NULL;   /* closing: nobody else is left */
    if (st->db && st->stmt[S_META_FLOOR]) store_save_stamps(st);
    eph_free(st->eph);
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st->id_shard);
    free(st);
}

const char *store_errmsg(struct store *st)
{
    return sql_refused(st) ? "out of memory" : sqlite3_errmsg(st->db);   /* memory fails only that way */
}

void store_lockstat(struct store *st, struct lockstat_totals *t) { eph_lockstat(st->eph, t); }

/* ---------------------------------------------------------------- transactions */

int store_begin(struct store *st)
{
    if (tl.st == st && (tl.txn || tl.shards)) abort();   /* not nested, not inside a call */
    if (run(S(st, S_BEGIN))) return -1;
    tl = (struct holding){.st = st, .txn = true, .sql = true};
    return 0;
}

int store_begin_memory(struct store *st)
{
    if (tl.st == st && (tl.txn || tl.shards)) abort();
    if (tl.st != st && tl.shards) abort();
    tl = (struct holding){.st = st, .txn = true};
    return 0;
}

int store_begin_service(struct store *st, const char *ns, const char *name, bool alone)
{
    if (tl.st == st && (tl.txn || tl.shards)) abort();
    if (tl.st != st && tl.shards) abort();
    unsigned k = eph_shard_of(ns, name);
    struct eph_shard *s = eph_shard(st->eph, k);
    eph_lock(s);
    eph_begin(s);
    tl = (struct holding){.st = st, .txn = true, .alone = alone, .shards = 1u << k};
    return 0;
}

/* Ends this thread's transaction in memory: every shard it holds committed or rolled back, unlocked. */
static void release_all(struct store *st, bool commit)
{
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        if (!(tl.shards & (1u << k))) continue;
        struct eph_shard *s = eph_shard(st->eph, k);
        if (commit) eph_commit(s);
        else eph_rollback(s);
        eph_unlock(s);
    }
    tl = (struct holding){0};
}

int store_commit(struct store *st)
{
    if (tl.st != st || !tl.txn) return 0;
    if (tl.sql && run(S(st, S_COMMIT))) return -1;   /* the caller rolls back (memory too) */
    release_all(st, true);
    return 0;
}

void store_rollback(struct store *st)
{
    bool mine = tl.st == st && tl.txn;
    if (!sql_refused(st) && !sqlite3_get_autocommit(st->db)) run(S(st, S_ROLLBACK));
    if (mine) release_all(st, false);
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

/* An owned record of a directory entry. 0, -1 out of memory. */
static int svc_own(const struct eph_svc *v, struct service_rec *out)
{
    const struct eph_svc_attrs *a = eph_svc_attrs(v);
    *out = (struct service_rec){
        .id = eph_svc_id(v), .ns = strdup(eph_svc_ns(v)), .name = strdup(eph_svc_name(v)),
        .protect_threshold = a->protect_threshold, .metadata = strdup(a->metadata), .selector = strdup(a->selector),
        .explicit_ = a->explicit_, .created_ms = a->created_ms, .empty_since_ms = a->empty_since_ms,
        .revision = a->revision,
    };
    if (!out->ns || !out->name || !out->metadata || !out->selector) {
        store_service_rec_free(out);
        return -1;
    }
    return 0;
}

int store_service_get(struct store *st, const char *ns, const char *name, struct service_rec *out)
{
    bool temp;
    struct eph_shard *sh = enter(st, eph_shard_of(ns, name), &temp);
    if (!sh) return STORE_SLOW;
    struct eph_svc *v = eph_svc_get(sh, ns, name);
    int rc = v ? svc_own(v, out) : 1;
    leave(sh, temp);
    return rc;
}

int store_service_state(struct store *st, const char *ns, const char *name, int64_t *id, int64_t *revision)
{
    bool temp;
    struct eph_shard *sh = enter(st, eph_shard_of(ns, name), &temp);
    if (!sh) return STORE_SLOW;
    struct eph_svc *v = eph_svc_get(sh, ns, name);
    if (v) {
        *id = eph_svc_id(v);
        *revision = eph_svc_attrs(v)->revision;
    }
    leave(sh, temp);
    return v ? 0 : 1;
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
    if (sql_refused(st)) return STORE_SLOW;
    bool temp;
    unsigned k = eph_shard_of(ns, name);
    struct eph_shard *sh = enter(st, k, &temp);
    int rc = 1;
    if (eph_svc_get(sh, ns, name)) goto out;
    int64_t id = st->next_service_id;
    struct eph_svc_attrs a = {.protect_threshold = protect_threshold, .metadata = metadata ? metadata : "{}",
                              .selector = selector ? selector : "{\"type\":\"none\"}", .explicit_ = explicit_,
                              .created_ms = now_ms, .empty_since_ms = now_ms};
    rc = -1;
    if (eph_svc_add(sh, id, ns, name, &a)) goto out;
    sqlite3_stmt *s = S(st, S_SVC_INSERT);
    bind_text(s, 1, ns);
    bind_text(s, 2, name);
    sqlite3_bind_double(s, 3, protect_threshold);
    bind_text(s, 4, a.metadata);
    bind_text(s, 5, a.selector);
    sqlite3_bind_int(s, 6, explicit_);
    sqlite3_bind_int64(s, 7, now_ms);
    sqlite3_bind_int64(s, 8, id);
    if (run(s)) {   /* in a transaction the caller rolls back (the entry too); else the entry goes now */
        if (!tl.txn) eph_svc_drop(sh, eph_svc_get_id(sh, id), NULL);
        goto out;
    }
    st->next_service_id++;
    id_shard_set(st, id, k);
    if (id_out) *id_out = id;
    rc = 0;
out:
    leave(sh, temp);
    return rc;
}

int store_service_ensure(struct store *st, const char *ns, const char *name, int64_t now_ms, int64_t *id_out)
{
    bool temp;
    struct eph_shard *sh = enter(st, eph_shard_of(ns, name), &temp);
    if (!sh) return STORE_SLOW;
    struct eph_svc *v = eph_svc_get(sh, ns, name);
    if (v) *id_out = eph_svc_id(v);
    leave(sh, temp);
    if (v) return 0;
    int rc = store_service_create(st, ns, name, 0.0, NULL, NULL, false, now_ms, id_out);
    return rc == 1 ? -1 : rc;
}

int store_service_update(struct store *st, int64_t id, double protect_threshold, const char *metadata,
                         const char *selector)
{
    if (sql_refused(st)) return STORE_SLOW;
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, id, &sh, &temp, &rc);
    if (!v) return rc;
    sqlite3_stmt *s = S(st, S_SVC_UPDATE);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, protect_threshold);
    bind_text(s, 3, metadata);
    bind_text(s, 4, selector);
    rc = -1;
    if (run(s)) goto out;
    struct eph_svc_attrs a = *eph_svc_attrs(v);
    a.protect_threshold = protect_threshold;
    if (metadata) a.metadata = metadata;
    if (selector) a.selector = selector;
    rc = eph_svc_set(sh, v, &a) ? -1 : 0;
out:
    leave(sh, temp);
    return rc;
}

int store_service_delete(struct store *st, int64_t id)
{
    if (sql_refused(st)) return STORE_SLOW;
    struct eph_shard *sh;
    bool temp;
    int rc;
    service_rows_gone(st);   /* before the write: a failed one may still have changed something */
    struct eph_svc *v = enter_service(st, id, &sh, &temp, &rc);
    if (!v) return rc;
    sqlite3_stmt *s = S(st, S_SVC_DELETE);
    sqlite3_bind_int64(s, 1, id);
    rc = run(s) || eph_svc_drop(sh, v, NULL) ? -1 : 0;
    leave(sh, temp);
    return rc;
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
    if (sql_refused(st)) return STORE_SLOW;
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
        struct service_rec r;
        svc_view(s, &r);
        struct eph_shard *sh;   /* what only memory knows */
        bool temp;
        int g;
        struct eph_svc *v = enter_service(st, r.id, &sh, &temp, &g);
        if (v) {
            r.empty_since_ms = eph_svc_attrs(v)->empty_since_ms;
            r.revision = eph_svc_attrs(v)->revision;
            leave(sh, temp);
        }
        if (cb(ctx, &r)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A new stamp, and empty-since set or cleared, for the entered service v. */
static int touch(struct store *st, struct eph_shard *sh, struct eph_svc *v, int64_t stamp, int64_t now_ms)
{
    struct eph_svc_attrs a = *eph_svc_attrs(v);
    a.revision = stamp > a.revision ? stamp : a.revision + 1;
    if (eph_svc_count(v) > 0 || a.n_persistent > 0) a.empty_since_ms = 0;
    else if (!a.empty_since_ms) a.empty_since_ms = now_ms > 0 ? now_ms : 1;
    (void)st;
    return eph_svc_set(sh, v, &a);
}

int store_service_touch(struct store *st, int64_t id, int64_t now_ms, int64_t real_ms)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, id, &sh, &temp, &rc);
    if (!v) return rc == 1 ? 0 : rc;   /* gone: nothing to stamp */
    rc = touch(st, sh, v, store_stamp_next(st, real_ms), now_ms);
    leave(sh, temp);
    return rc;
}

int store_service_touch_many(struct store *st, const int64_t *ids, size_t n, int64_t now_ms, int64_t real_ms)
{
    if (!n) return 0;
    int64_t stamp = store_stamp_next(st, real_ms);   /* one stamp for the batch: each service's own grows */
    for (size_t i = 0; i < n; i++) {
        struct eph_shard *sh;
        bool temp;
        int rc;
        struct eph_svc *v = enter_service(st, ids[i], &sh, &temp, &rc);
        if (!v) {
            if (rc == 1) continue;
            return rc;
        }
        rc = touch(st, sh, v, stamp, now_ms);
        leave(sh, temp);
        if (rc) return rc;
    }
    return 0;
}

/* n_persistent of the entered service v moves by delta. */
static int count_persistent(struct eph_shard *sh, struct eph_svc *v, long delta)
{
    struct eph_svc_attrs a = *eph_svc_attrs(v);
    a.n_persistent += delta;
    if (a.n_persistent < 0) a.n_persistent = 0;
    return eph_svc_set(sh, v, &a);
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
    r->owner = 0;   /* SQLite rows are persistent: never connection-owned */
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

static void bind_instance(sqlite3_stmt *s, const struct instance_rec *in)
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
}

/* Steps a statement that selects INST_COLS into an owned record. 0 found, 1 not found, -1 error. */
static int step_owned(sqlite3_stmt *s, struct instance_rec *out)
{
    int rc = sqlite3_step(s);
    int r = rc == SQLITE_DONE ? 1 : rc == SQLITE_ROW ? 0 : -1;
    if (r == 0) {
        inst_view(s, out);
        r = inst_own(out);
    }
    sqlite3_reset(s);
    return r;
}

/* The SQLite row `id` as an owned record. 0 found, 1 not found, -1 error. */
static int sql_instance_by_id(struct store *st, int64_t id, struct instance_rec *out)
{
    sqlite3_stmt *s = S(st, S_INST_GET_ID);
    sqlite3_bind_int64(s, 1, id);
    return step_owned(s, out);
}

/* Deletes the SQLite row `id`; *service_id gets its service. 0 deleted, 1 none, -1 error. */
static int sql_delete_id(struct store *st, int64_t id, int64_t *service_id)
{
    sqlite3_stmt *s = S(st, S_INST_DELETE_ID);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *service_id = sqlite3_column_int64(s, 0);
    if (rc == SQLITE_ROW) rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

/* Writes an ephemeral instance of the entered service v to memory: replacing `old` (memory) or the
 * SQLite row `sql_id` (an instance turning ephemeral: the row goes), or new. Kept from what it
 * replaces: instance_id unless set, registered_ms. */
static int write_ephemeral(struct store *st, struct eph_shard *sh, struct eph_svc *v, const struct instance_rec *in,
                           struct eph_inst *old, int64_t sql_id)
{
    struct instance_rec m = *in, prev = {0};
    int rc = -1;
    if (old) {
        const struct instance_rec *o = eph_rec(old);
        if (!m.instance_id) m.instance_id = o->instance_id;
        m.registered_ms = o->registered_ms;
    } else if (sql_id) {
        if (sql_refused(st)) return STORE_SLOW;
        if (sql_instance_by_id(st, sql_id, &prev)) goto out;
        if (!m.instance_id) m.instance_id = prev.instance_id;
        m.registered_ms = prev.registered_ms;
    } else if (!m.instance_id) {
        goto out;
    }
    if (sql_id) {
        int64_t sid = 0;
        if (sql_delete_id(st, sql_id, &sid) || count_persistent(sh, v, -1)) goto out;
    }
    rc = eph_put(sh, &m, old, NULL);
out:
    store_instance_rec_free(&prev);
    return rc;
}

int store_instance_write(struct store *st, const struct instance_rec *in, int64_t existing_id)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, in->service_id, &sh, &temp, &rc);
    if (!v) return rc == 1 ? -1 : rc;
    struct eph_inst *old = existing_id >= EPH_ID_BASE ? eph_get_id(sh, existing_id) : NULL;
    rc = -1;
    if (existing_id >= EPH_ID_BASE && !old) goto out;
    if (in->ephemeral) {
        rc = write_ephemeral(st, sh, v, in, old, old ? 0 : existing_id);
        goto out;
    }
    if (sql_refused(st)) {
        rc = STORE_SLOW;
        goto out;
    }
    if (old) {   /* turning persistent: a row with what it keeps, and the memory instance goes */
        const struct instance_rec *o = eph_rec(old);
        struct instance_rec m = *in;
        if (!m.instance_id) m.instance_id = o->instance_id;
        m.registered_ms = o->registered_ms;
        sqlite3_stmt *s = S(st, S_INST_INSERT);
        bind_instance(s, &m);
        if (run(s)) goto out;
        rc = eph_remove(sh, old) || count_persistent(sh, v, +1) ? -1 : 0;
    } else if (existing_id > 0) {
        sqlite3_stmt *u = S(st, S_INST_UPDATE);
        bind_instance(u, in);
        sqlite3_bind_int64(u, 18, existing_id);
        if (run(u)) goto out;
        rc = sqlite3_changes(st->db) == 1 ? 0 : -1;
    } else if (in->instance_id) {
        sqlite3_stmt *s = S(st, S_INST_INSERT);
        bind_instance(s, in);
        if (run(s)) goto out;
        rc = count_persistent(sh, v, +1) ? -1 : 0;
    }
out:
    leave(sh, temp);
    return rc;
}

/* Binds an instance key (service, cluster, ip, port) to ?1..?4. */
static void bind_key(sqlite3_stmt *s, int64_t service_id, const char *cluster, const char *ip, int port)
{
    sqlite3_bind_int64(s, 1, service_id);
    bind_text(s, 2, cluster);
    bind_text(s, 3, ip);
    sqlite3_bind_int(s, 4, port);
}

/* The id of (service, cluster, ip, port) in *id (memory or SQLite), 0 when there is none. 0 ok,
 * -1 error, STORE_SLOW. */
static int find_instance_id(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                            int64_t *id)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    *id = 0;
    struct eph_svc *v = enter_service(st, service_id, &sh, &temp, &rc);
    if (!v) return rc == 1 ? 0 : rc;
    struct eph_inst *e = eph_get(sh, service_id, cluster, ip, port);
    long np = eph_svc_attrs(v)->n_persistent;
    if (e) *id = eph_rec(e)->id;
    leave(sh, temp);
    if (e || np == 0) return 0;
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *f = S(st, S_INST_FIND);
    bind_key(f, service_id, cluster, ip, port);
    rc = sqlite3_step(f);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(f, 0) : 0;
    sqlite3_reset(f);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_instance_upsert(struct store *st, const struct instance_rec *in, bool *created)
{
    int64_t id = 0;
    int rc = find_instance_id(st, in->service_id, in->cluster, in->ip, in->port, &id);
    if (rc) return rc;
    if (created) *created = id == 0;
    return store_instance_write(st, in, id);
}

int store_instance_get(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                       struct instance_rec *out)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, service_id, &sh, &temp, &rc);
    if (!v) return rc;
    struct eph_inst *e = eph_get(sh, service_id, cluster, ip, port);
    long np = eph_svc_attrs(v)->n_persistent;
    if (e) {
        *out = *eph_rec(e);
        rc = inst_own(out);
    }
    leave(sh, temp);
    if (e) return rc;
    if (np == 0) return 1;
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *s = S(st, S_INST_GET);
    bind_key(s, service_id, cluster, ip, port);
    return step_owned(s, out);
}

int store_instance_delete(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                          bool ephemeral)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, service_id, &sh, &temp, &rc);
    if (!v) return rc;
    if (ephemeral) {
        struct eph_inst *e = eph_get(sh, service_id, cluster, ip, port);
        rc = e ? eph_remove(sh, e) : 1;
    } else if (eph_svc_attrs(v)->n_persistent == 0) {
        rc = 1;
    } else if (sql_refused(st)) {
        rc = STORE_SLOW;
    } else {
        sqlite3_stmt *s = S(st, S_INST_DELETE);
        bind_key(s, service_id, cluster, ip, port);
        sqlite3_bind_int(s, 5, 0);
        rc = run(s) ? -1 : sqlite3_changes(st->db) ? 0 : 1;
        if (rc == 0 && count_persistent(sh, v, -1)) rc = -1;
    }
    leave(sh, temp);
    return rc;
}

int store_instance_beat(struct store *st, const char *ns, const char *service, const char *cluster, const char *ip,
                        int port, int64_t now_ms, struct beat_result *out)
{
    bool temp;
    struct eph_shard *sh = enter(st, eph_shard_of(ns, service), &temp);
    if (!sh) return STORE_SLOW;
    struct eph_svc *v = eph_svc_get(sh, ns, service);
    struct eph_inst *e = v ? eph_get(sh, eph_svc_id(v), cluster, ip, port) : NULL;
    long np = v ? eph_svc_attrs(v)->n_persistent : 0;
    int rc = 1;
    if (e) {
        const struct instance_rec *r = eph_rec(e);
        if (out) {
            out->interval_ms = r->hb_interval_ms;
            out->service_id = r->service_id;
            out->prev_beat_ms = r->last_beat_ms;
            out->was_unhealthy = !r->healthy;
            out->instance_id[0] = '\0';   /* a healthy beat, the usual one, logs nothing */
            if (out->was_unhealthy) snprintf(out->instance_id, sizeof out->instance_id, "%s", r->instance_id);
        }
        rc = eph_beat(sh, e, now_ms);
    }
    leave(sh, temp);
    if (e || np == 0) return rc;
    /* persistent instances are found, and beats change nothing about them */
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *f = S(st, S_INST_BEAT_FIND);
    bind_text(f, 1, ns);
    bind_text(f, 2, service);
    bind_text(f, 3, cluster);
    bind_text(f, 4, ip);
    sqlite3_bind_int(f, 5, port);
    rc = sqlite3_step(f);
    if (rc == SQLITE_DONE) { sqlite3_reset(f); return 1; }
    if (rc != SQLITE_ROW) { sqlite3_reset(f); return -1; }
    if (out) {
        out->interval_ms = sqlite3_column_int64(f, 3);
        out->service_id = sqlite3_column_int64(f, 4);
        out->prev_beat_ms = sqlite3_column_int64(f, 5);
        out->was_unhealthy = false;
        snprintf(out->instance_id, sizeof out->instance_id, "%s", col_text(f, 6));
    }
    sqlite3_reset(f);
    return 0;
}

int store_instance_set_health(struct store *st, int64_t id, bool healthy)
{
    if (id >= EPH_ID_BASE) {
        bool temp;
        struct eph_shard *sh = enter(st, eph_shard_of_id(id), &temp);
        if (!sh) return STORE_SLOW;
        struct eph_inst *e = eph_get_id(sh, id);
        int rc = e ? eph_set_health(sh, e, healthy) : 1;
        leave(sh, temp);
        return rc;
    }
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *s = S(st, S_INST_SET_HEALTH);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, healthy);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_instance_delete_id(struct store *st, int64_t id)
{
    if (id >= EPH_ID_BASE) {
        bool temp;
        struct eph_shard *sh = enter(st, eph_shard_of_id(id), &temp);
        if (!sh) return STORE_SLOW;
        struct eph_inst *e = eph_get_id(sh, id);
        int rc = e ? eph_remove(sh, e) : 1;
        leave(sh, temp);
        return rc;
    }
    if (sql_refused(st)) return STORE_SLOW;
    int64_t sid = 0;
    int rc = sql_delete_id(st, id, &sid);
    if (rc) return rc;
    struct eph_shard *sh;
    bool temp;
    int g;
    struct eph_svc *v = enter_service(st, sid, &sh, &temp, &g);
    if (!v) return 0;
    rc = count_persistent(sh, v, -1);
    leave(sh, temp);
    return rc;
}

typedef int (*rec_cmp)(const struct instance_rec *a, const struct instance_rec *b);

static int cmp_port(const struct instance_rec *a, const struct instance_rec *b)
{
    return (a->port > b->port) - (a->port < b->port);
}

/* S_INST_FOREACH's order: healthy first, then cluster, ip, port (SQLite's BINARY collation is
 * strcmp's order for text without NULs). */
static int cmp_service_order(const struct instance_rec *a, const struct instance_rec *b)
{
    if (a->healthy != b->healthy) return a->healthy ? -1 : 1;
    int c = strcmp(a->cluster, b->cluster);
    if (!c) c = strcmp(a->ip, b->ip);
    return c ? c : cmp_port(a, b);
}

/* S_INST_ALL's order: namespace, service, cluster, ip, port. */
static int cmp_all_order(const struct instance_rec *a, const struct instance_rec *b)
{
    int c = strcmp(a->ns, b->ns);
    if (!c) c = strcmp(a->service, b->service);
    if (!c) c = strcmp(a->cluster, b->cluster);
    if (!c) c = strcmp(a->ip, b->ip);
    return c ? c : cmp_port(a, b);
}

static int qsort_service_order(const void *a, const void *b)
{
    return cmp_service_order(*(const struct instance_rec *const *)a, *(const struct instance_rec *const *)b);
}

static int qsort_all_order(const void *a, const void *b)
{
    return cmp_all_order(*(const struct instance_rec *const *)a, *(const struct instance_rec *const *)b);
}

/* Calls cb for the SQLite rows of `s` (NULL: none) and the memory views `mem` (sorted by cmp) merged
 * in cmp's order, which is the statement's ORDER BY. */
static int foreach_merged(sqlite3_stmt *s, const struct instance_rec **mem, size_t n, rec_cmp cmp,
                          store_instance_cb cb, void *ctx)
{
    size_t k = 0;
    int rc = SQLITE_DONE;
    while (s && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct instance_rec v;
        inst_view(s, &v);
        for (; k < n && cmp(mem[k], &v) < 0; k++)
            if (cb(ctx, mem[k])) goto stop;
        if (cb(ctx, &v)) goto stop;
    }
    if (rc != SQLITE_DONE) goto out;
    for (; k < n; k++)
        if (cb(ctx, mem[k])) goto stop;
    goto out;
stop:
    rc = SQLITE_DONE;
out:
    if (s) sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_instance_foreach(struct store *st, int64_t service_id, store_instance_cb cb, void *ctx)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    struct eph_svc *v = enter_service(st, service_id, &sh, &temp, &rc);
    if (!v) return rc == 1 ? 0 : rc;   /* an unknown service has no instances */
    const struct instance_rec **mem = NULL;
    size_t n = 0;
    sqlite3_stmt *s = NULL;
    rc = -1;
    if (eph_svc_attrs(v)->n_persistent > 0) {
        if (sql_refused(st)) {
            rc = STORE_SLOW;
            goto out;
        }
        s = S(st, S_INST_FOREACH);
        sqlite3_bind_int64(s, 1, service_id);
    }
    if (eph_list(sh, service_id, &mem, &n)) goto out;
    if (n > 1) qsort(mem, n, sizeof *mem, qsort_service_order);
    rc = foreach_merged(s, mem, n, cmp_service_order, cb, ctx);
out:
    free(mem);
    leave(sh, temp);
    return rc;
}

/* Every shard entered, in index order (the caller holds app->mu: only its holder may hold several).
 * *temp gets the bits of those this call locked. NULL-free unless alone (STORE_SLOW). */
static int enter_all(struct store *st, uint32_t *temp)
{
    *temp = 0;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        bool t;
        if (!enter(st, k, &t)) return STORE_SLOW;
        if (t) *temp |= 1u << k;
    }
    return 0;
}

static void leave_all(struct store *st, uint32_t temp)
{
    for (unsigned k = 0; k < EPH_SHARDS; k++)
        if (temp & (1u << k)) leave(eph_shard(st->eph, k), true);
}

struct due_view { const struct instance_rec *r; int64_t at; };

static int cmp_due(const void *a, const void *b)
{
    const struct due_view *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return (x->r->id > y->r->id) - (x->r->id < y->r->id);
}

int store_instance_foreach_expired(struct store *st, int64_t now_ms, long limit, store_instance_cb cb, void *ctx)
{
    /* only ephemeral instances are ever due, and they all live in memory */
    uint32_t temp;
    if (enter_all(st, &temp)) {
        leave_all(st, temp);
        return STORE_SLOW;
    }
    long total = 0;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        long n;
        eph_totals(eph_shard(st->eph, k), &n, NULL);
        total += n;
    }
    size_t cap = (size_t)(limit > 0 && limit < total ? limit : total);
    const struct instance_rec **due = cap ? malloc(cap * sizeof *due) : NULL;
    struct due_view *all = cap ? malloc((size_t)total * sizeof *all) : NULL;   /* at most every instance */
    int rc = cap && (!due || !all) ? -1 : 0;
    size_t n_all = 0;
    for (unsigned k = 0; rc == 0 && cap && k < EPH_SHARDS; k++) {
        size_t n = eph_due(eph_shard(st->eph, k), now_ms, cap, due);
        for (size_t i = 0; i < n; i++) {
            const struct instance_rec *r = due[i];
            int64_t t = r->healthy ? (r->hb_timeout_ms < r->delete_timeout_ms ? r->hb_timeout_ms : r->delete_timeout_ms)
                                   : r->delete_timeout_ms;
            all[n_all++] = (struct due_view){r, r->last_beat_ms + t};
        }
    }
    if (n_all > 1) qsort(all, n_all, sizeof *all, cmp_due);
    for (size_t i = 0; rc == 0 && i < n_all && i < cap; i++)
        if (cb(ctx, all[i].r)) break;
    free(due);
    free(all);
    leave_all(st, temp);
    return rc;
}

long store_instance_sweep_due(struct store *st, unsigned shard, int64_t now_ms, long limit, store_verdict_cb cb,
                              void *ctx)
{
    bool temp;
    struct eph_shard *sh = enter(st, shard, &temp);
    if (!sh) return STORE_SLOW;
    long n = eph_sweep(sh, now_ms, limit > 0 ? (size_t)limit : SIZE_MAX, cb, ctx);   /* only ephemeral are due */
    leave(sh, temp);
    return n;
}

bool store_any_due(struct store *st, unsigned shard, int64_t now_ms)
{
    bool temp;
    struct eph_shard *sh = enter(st, shard, &temp);
    if (!sh) return true;
    bool due = eph_any_due(sh, now_ms);
    leave(sh, temp);
    return due;
}

int store_instance_foreach_all(struct store *st, store_instance_cb cb, void *ctx)
{
    if (sql_refused(st)) return STORE_SLOW;
    uint32_t temp;
    int rc = enter_all(st, &temp);
    const struct instance_rec **mem = NULL;
    size_t n = 0;
    for (unsigned k = 0; rc == 0 && k < EPH_SHARDS; k++) {
        const struct instance_rec **part = NULL;
        size_t np = 0;
        if (eph_list(eph_shard(st->eph, k), 0, &part, &np)) {
            rc = -1;
            break;
        }
        const struct instance_rec **grown = np ? realloc(mem, (n + np) * sizeof *mem) : mem;
        if (np && !grown) {
            free(part);
            rc = -1;
            break;
        }
        mem = grown;
        if (np) memcpy(mem + n, part, np * sizeof *mem);
        n += np;
        free(part);
    }
    if (rc == 0) {
        if (n > 1) qsort(mem, n, sizeof *mem, qsort_all_order);
        rc = foreach_merged(S(st, S_INST_ALL), mem, n, cmp_all_order, cb, ctx);
    }
    free(mem);
    leave_all(st, temp);
    return rc;
}

/* Marks `id` (an instance id that is a small non-negative integer) in the bitmap *used of *cap. */
static int mark_numeric(const char *t, unsigned char **used, size_t *cap)
{
    char *end = NULL;
    long v = strtol(t, &end, 10);
    if (!*t || *end || v < 0 || v > 1000000) return 0;
    if ((size_t)v >= *cap) {
        size_t ncap = (size_t)v * 2 + 1;
        unsigned char *nu = realloc(*used, ncap);
        if (!nu) return -1;
        memset(nu + *cap, 0, ncap - *cap);
        *used = nu;
        *cap = ncap;
    }
    (*used)[v] = 1;
    return 0;
}

int store_instance_next_numeric_id(struct store *st, int64_t service_id, long *out)
{
    struct eph_shard *sh;
    bool temp;
    int rc;
    size_t cap = 64;
    unsigned char *used = calloc(cap, 1);
    if (!used) return -1;
    struct eph_svc *v = enter_service(st, service_id, &sh, &temp, &rc);
    long np = 0;
    bool oom = false;
    if (v) {
        const struct instance_rec **mem = NULL;
        size_t n = 0;
        oom = eph_list(sh, service_id, &mem, &n) != 0;
        for (size_t k = 0; k < n; k++) oom |= mark_numeric(mem[k]->instance_id, &used, &cap) != 0;
        free(mem);
        np = eph_svc_attrs(v)->n_persistent;
        leave(sh, temp);
    } else if (rc != 1) {
        free(used);
        return rc;
    }
    rc = SQLITE_DONE;
    if (np > 0) {
        if (sql_refused(st)) {
            free(used);
            return STORE_SLOW;
        }
        sqlite3_stmt *s = S(st, S_INST_IDS);
        sqlite3_bind_int64(s, 1, service_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) oom |= mark_numeric(col_text(s, 0), &used, &cap) != 0;
        sqlite3_reset(s);
    }
    if (oom) rc = SQLITE_NOMEM;
    long id = 0;
    while ((size_t)id < cap && used[id]) id++;
    free(used);
    *out = id;
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_counts(struct store *st, long *services, long *instances, long *healthy)
{
    if (sql_refused(st)) return STORE_SLOW;
    sqlite3_stmt *s = S(st, S_COUNTS);
    if (sqlite3_step(s) != SQLITE_ROW) { sqlite3_reset(s); return -1; }
    long mem = 0, mem_healthy = 0;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        bool temp;
        struct eph_shard *sh = enter(st, k, &temp);
        long n = 0, h = 0;
        eph_totals(sh, &n, &h);
        mem += n;
        mem_healthy += h;
        leave(sh, temp);
    }
    if (services) *services = (long)sqlite3_column_int64(s, 0);
    if (instances) *instances = (long)sqlite3_column_int64(s, 1) + mem;
    if (healthy) *healthy = (long)sqlite3_column_int64(s, 2) + mem_healthy;
    sqlite3_reset(s);
    return 0;
}

int store_forget_ephemeral(struct store *st, const char *ns, const char *service, int64_t now_ms, int64_t real_ms,
                           store_service_id_cb cb, void *ctx, long *removed)
{
    long total = 0;
    int rc = 0;
    for (unsigned k = 0; rc == 0 && k < EPH_SHARDS; k++) {
        if (ns && service && k != eph_shard_of(ns, service)) continue;
        bool temp;
        struct eph_shard *sh = enter(st, k, &temp);
        if (!sh) return STORE_SLOW;
        int64_t *ids = NULL;
        size_t n = 0;
        if (eph_services(sh, ns, service, &ids, &n)) rc = -1;
        int64_t stamp = n ? store_stamp_next(st, real_ms) : 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            long gone = 0;
            if (eph_remove_instances(sh, ids[i], &gone)) { rc = -1; break; }
            total += gone;
            struct eph_svc *v = eph_svc_get_id(sh, ids[i]);
            if (v && touch(st, sh, v, stamp, now_ms)) rc = -1;
        }
        leave(sh, temp);
        for (size_t i = 0; rc == 0 && cb && i < n; i++) cb(ctx, ids[i]);
        free(ids);
    }
    if (removed) *removed = total;
    return rc;
}

int store_clear(struct store *st)
{
    if (sql_refused(st)) return STORE_SLOW;
    service_rows_gone(st);
    if (run(S(st, S_CLEAR_INST)) || run(S(st, S_CLEAR_SVC))) return -1;
    int rc = 0;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        bool temp;
        struct eph_shard *sh = enter(st, k, &temp);
        if (eph_clear(sh)) rc = -1;
        leave(sh, temp);
    }
    return rc;
}

struct gc_pick { int64_t cutoff; int64_t *ids; size_t n, cap; bool oom; };

static int gc_candidate(void *ctx, struct eph_svc *v)
{
    struct gc_pick *p = ctx;
    const struct eph_svc_attrs *a = eph_svc_attrs(v);
    if (a->explicit_ || !a->empty_since_ms || a->empty_since_ms >= p->cutoff || eph_svc_count(v) ||
        a->n_persistent)
        return 0;
    if (util_grow((void **)&p->ids, &p->cap, p->n, sizeof *p->ids)) {
        p->oom = true;
        return 1;
    }
    p->ids[p->n++] = eph_svc_id(v);
    return 0;
}

int store_gc_empty_services(struct store *st, int64_t cutoff_ms, long *removed)
{
    if (sql_refused(st)) return STORE_SLOW;
    long n = 0;
    int rc = 0;
    for (unsigned k = 0; rc == 0 && k < EPH_SHARDS; k++) {
        bool temp;
        struct eph_shard *sh = enter(st, k, &temp);
        struct gc_pick p = {.cutoff = cutoff_ms};
        eph_svc_foreach(sh, gc_candidate, &p);
        if (p.oom) rc = -1;
        for (size_t i = 0; rc == 0 && i < p.n; i++) {
            sqlite3_stmt *s = S(st, S_SVC_DELETE);
            sqlite3_bind_int64(s, 1, p.ids[i]);
            if (run(s) || eph_svc_drop(sh, eph_svc_get_id(sh, p.ids[i]), NULL)) rc = -1;
            else n++;
        }
        free(p.ids);
        leave(sh, temp);
    }
    if (n || rc) service_rows_gone(st);
    if (removed) *removed = n;
    return rc;
}

int64_t store_generation(const struct store *st) { return atomic_load(&st->generation); }

/* ================================================================ configs (store.h: "configs") */

struct cfg_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S__COUNT];   /* only [S_CFG_MD5, S__COUNT) are prepared */
};

static sqlite3_stmt *C(struct cfg_store *cs, enum stmt_id id)
{
    sqlite3_stmt *s = cs->stmt[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

struct cfg_store *store_config_open(const char *path, char *err, size_t errlen)
{
    struct cfg_store *cs = calloc(1, sizeof *cs);
    if (!cs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bool mem;
    /* a file has the tables already (store_open); a database of its own needs them: IF NOT EXISTS */
    if (open_db(path, &cs->db, &mem, err, errlen) || exec(cs->db, CONFIG_SCHEMA, err, errlen) ||
        prepare_range(cs->db, cs->stmt, S_CFG_MD5, S__COUNT, err, errlen))
        goto fail;
    return cs;
fail:
    store_config_close(cs);
    return NULL;
}

void store_config_close(struct cfg_store *cs)
{
    if (!cs) return;
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(cs->stmt[i]);
    sqlite3_close(cs->db);
    free(cs);
}

const char *store_config_errmsg(struct cfg_store *cs) { return sqlite3_errmsg(cs->db); }

int store_config_begin(struct cfg_store *cs) { return run(C(cs, S_CFG_BEGIN)); }
int store_config_commit(struct cfg_store *cs) { return run(C(cs, S_CFG_COMMIT)); }

void store_config_rollback(struct cfg_store *cs)
{
    if (!sqlite3_get_autocommit(cs->db)) run(C(cs, S_CFG_ROLLBACK));
}

static void bind_cfg_key(sqlite3_stmt *s, const char *ns, const char *group, const char *data_id)
{
    bind_text(s, 1, ns);
    bind_text(s, 2, group);
    bind_text(s, 3, data_id);
}

int store_config_md5(struct cfg_store *cs, const char *ns, const char *group, const char *data_id, char md5[33])
{
    sqlite3_stmt *s = C(cs, S_CFG_MD5);
    bind_cfg_key(s, ns, group, data_id);
    int rc = sqlite3_step(s);
    md5[0] = '\0';
    if (rc == SQLITE_ROW) snprintf(md5, 33, "%s", col_text(s, 0));
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* A row of CFG_COLS as a view. */
static void cfg_view(sqlite3_stmt *s, struct config_rec *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->ns = col_text(s, 1);
    r->group = col_text(s, 2);
    r->data_id = col_text(s, 3);
    r->content = col_text(s, 4);
    r->content_len = (size_t)sqlite3_column_bytes(s, 4);
    r->md5 = col_text(s, 5);
    r->type = col_text(s, 6);
    r->app_name = col_text(s, 7);
    r->desc = col_text(s, 8);
    r->tags = col_text(s, 9);
    r->encrypted_data_key = col_text(s, 10);
    r->src_user = col_text(s, 11);
    r->src_ip = col_text(s, 12);
    r->created_ms = sqlite3_column_int64(s, 13);
    r->modified_ms = sqlite3_column_int64(s, 14);
    r->owned_ = NULL;
}

/* Makes a view owned: every string copied into one allocation. 0 ok, -1 out of memory. */
static int cfg_own(struct config_rec *r)
{
    const char **f[] = {&r->ns, &r->group, &r->data_id, &r->md5, &r->type, &r->app_name, &r->desc, &r->tags,
                        &r->encrypted_data_key, &r->src_user, &r->src_ip};
    size_t n = sizeof f / sizeof f[0], need = r->content_len + 1;
    for (size_t i = 0; i < n; i++) need += strlen(*f[i]) + 1;
    char *b = malloc(need), *w = b;
    if (!b) return -1;
    memcpy(w, r->content, r->content_len);   /* first: the content starts the allocation */
    w[r->content_len] = '\0';
    r->content = w;
    w += r->content_len + 1;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(*f[i]) + 1;
        memcpy(w, *f[i], k);
        *f[i] = w;
        w += k;
    }
    r->owned_ = b;
    return 0;
}

int store_config_get(struct cfg_store *cs, const char *ns, const char *group, const char *data_id,
                     struct config_rec *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = C(cs, S_CFG_GET);
    bind_cfg_key(s, ns, group, data_id);
    int rc = sqlite3_step(s), r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
    if (r == 0) {
        cfg_view(s, out);
        if (cfg_own(out)) r = -1;
    }
    sqlite3_reset(s);
    return r;
}

void store_config_rec_free(struct config_rec *r)
{
    free(r->owned_);
    memset(r, 0, sizeof *r);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

int store_config_put(struct cfg_store *cs, const struct config_rec *in, int64_t now_ms, bool *created)
{
    for (int pass = 0; pass < 2; pass++) {   /* update; when nothing was there, insert */
        sqlite3_stmt *s = C(cs, pass ? S_CFG_INSERT : S_CFG_UPDATE);
        bind_cfg_key(s, in->ns, in->group, in->data_id);
        sqlite3_bind_text(s, 4, in->content ? in->content : "", (int)in->content_len, SQLITE_STATIC);
        const char *v[] = {in->md5, in->type, in->app_name, in->desc, in->tags, in->encrypted_data_key, in->src_user,
                           in->src_ip};
        for (int i = 0; i < 8; i++) bind_text(s, 5 + i, or_empty(v[i]));
        sqlite3_bind_int64(s, 13, now_ms);
        if (run(s)) return -1;
        if (sqlite3_changes(cs->db)) {
            if (created) *created = pass == 1;
            return 0;
        }
    }
    return -1;
}

int store_config_delete(struct cfg_store *cs, const char *ns, const char *group, const char *data_id)
{
    sqlite3_stmt *s = C(cs, S_CFG_DELETE);
    bind_cfg_key(s, ns, group, data_id);
    if (run(s)) return -1;
    return sqlite3_changes(cs->db) ? 0 : 1;
}

int store_config_history_add(struct cfg_store *cs, const char *ns, const char *group, const char *data_id,
                             const char *op_type, const char *src_ip, const char *src_user, int64_t now_ms)
{
    sqlite3_stmt *s = C(cs, S_CFG_HIST_ADD);
    bind_cfg_key(s, ns, group, data_id);
    bind_text(s, 4, or_empty(src_ip));
    bind_text(s, 5, or_empty(src_user));
    bind_text(s, 6, op_type);
    sqlite3_bind_int64(s, 7, now_ms);
    if (run(s)) return -1;
    sqlite3_stmt *p = C(cs, S_CFG_HIST_PRUNE);
    bind_cfg_key(p, ns, group, data_id);
    sqlite3_bind_int64(p, 4, CONFIG_HISTORY_KEEP);
    sqlite3_bind_int64(p, 5, CONFIG_HISTORY_BYTES);
    return run(p);
}

/* A search pattern (`*` = any run) as a GLOB pattern: GLOB's other specials are bracketed to stay
 * literal. Caller frees; NULL when out of memory. */
static char *glob_pattern(const char *p)
{
    char *g = malloc(strlen(p) * 3 + 1), *w = g;
    if (!g) return NULL;
    for (; *p; p++) {
        if (*p == '?' || *p == '[') {
            *w++ = '[';
            *w++ = *p;
            *w++ = ']';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return g;
}

/* Binds a config_filter to ?1..?5 (CFG_FILTER); the glob patterns are made into gd/gg (caller frees). */
static int bind_filter(sqlite3_stmt *s, const struct config_filter *f, char **gd, char **gg)
{
    *gd = *gg = NULL;
    if (f->glob && f->data_id && !(*gd = glob_pattern(f->data_id))) return -1;
    if (f->glob && f->group && !(*gg = glob_pattern(f->group))) return -1;
    bind_text(s, 1, f->ns);
    bind_text(s, 2, f->glob ? *gd : f->data_id);
    bind_text(s, 3, f->glob ? *gg : f->group);
    bind_text(s, 4, f->app_name);
    sqlite3_bind_int(s, 5, f->glob);
    return 0;
}

/* Steps a CFG_COLS statement, a view of each row to cb. 0 ok, -1 error. */
static int cfg_rows(sqlite3_stmt *s, store_config_cb cb, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct config_rec v;
        cfg_view(s, &v);
        if (cb(ctx, &v)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_config_search(struct cfg_store *cs, const struct config_filter *f, long offset, long limit,
                        store_config_cb cb, void *ctx, long *total)
{
    char *gd = NULL, *gg = NULL;
    int rc = -1;
    if (total) {
        sqlite3_stmt *c = C(cs, S_CFG_COUNT);
        if (bind_filter(c, f, &gd, &gg)) goto out;
        if (sqlite3_step(c) != SQLITE_ROW) { sqlite3_reset(c); goto out; }
        *total = (long)sqlite3_column_int64(c, 0);
        sqlite3_reset(c);
        free(gd);
        free(gg);
    }
    sqlite3_stmt *s = C(cs, S_CFG_SEARCH);
    if (bind_filter(s, f, &gd, &gg)) goto out;
    sqlite3_bind_int64(s, 6, limit);
    sqlite3_bind_int64(s, 7, offset < 0 ? 0 : offset);
    rc = cfg_rows(s, cb, ctx);
out:
    free(gd);
    free(gg);
    return rc;
}

int store_config_foreach(struct cfg_store *cs, store_config_cb cb, void *ctx)
{
    return cfg_rows(C(cs, S_CFG_ALL), cb, ctx);
}

int store_config_clear(struct cfg_store *cs)
{
    return run(C(cs, S_CFG_CLEAR)) || run(C(cs, S_CFG_CLEAR_HIST)) ? -1 : 0;
}

/* Steps a HIST_COLS statement, a view of each row to cb. Returns the rows seen, -1 on error. */
static long hist_rows(sqlite3_stmt *s, store_history_cb cb, void *ctx)
{
    int rc;
    long n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct config_history_rec r = {
            .id = sqlite3_column_int64(s, 0), .ns = col_text(s, 1), .group = col_text(s, 2),
            .data_id = col_text(s, 3), .app_name = col_text(s, 4), .content = col_text(s, 5),
            .content_len = (size_t)sqlite3_column_bytes(s, 5), .md5 = col_text(s, 6),
            .encrypted_data_key = col_text(s, 7), .src_ip = col_text(s, 8), .src_user = col_text(s, 9),
            .op_type = col_text(s, 10), .created_ms = sqlite3_column_int64(s, 11),
            .modified_ms = sqlite3_column_int64(s, 12),
        };
        n++;
        if (cb(ctx, &r)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : -1;
}

int store_config_history(struct cfg_store *cs, const char *ns, const char *group, const char *data_id, long offset,
                         long limit, store_history_cb cb, void *ctx, long *total)
{
    if (total) {
        sqlite3_stmt *c = C(cs, S_CFG_HIST_COUNT);
        bind_cfg_key(c, ns, group, data_id);
        if (sqlite3_step(c) != SQLITE_ROW) { sqlite3_reset(c); return -1; }
        *total = (long)sqlite3_column_int64(c, 0);
        sqlite3_reset(c);
    }
    sqlite3_stmt *s = C(cs, S_CFG_HIST_LIST);
    bind_cfg_key(s, ns, group, data_id);
    sqlite3_bind_int64(s, 4, limit);
    sqlite3_bind_int64(s, 5, offset < 0 ? 0 : offset);
    return hist_rows(s, cb, ctx) < 0 ? -1 : 0;
}

int store_config_history_get(struct cfg_store *cs, int64_t nid, store_history_cb cb, void *ctx)
{
    sqlite3_stmt *s = C(cs, S_CFG_HIST_GET);
    sqlite3_bind_int64(s, 1, nid);
    long n = hist_rows(s, cb, ctx);
    return n < 0 ? -1 : n ? 0 : 1;
}
