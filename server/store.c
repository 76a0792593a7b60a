/*
 * store.c — the registry in SQLite (see store.h for invariants and ownership).
 *
 * Every statement is prepared once in store_open() from the STMT table below and reset after use.
 * The schema lives in one place (SCHEMA) and is versioned with PRAGMA user_version.
 *
 * Two homes for instances behind one API: services and persistent instances are SQLite rows;
 * ephemeral instances live in memory (ephemeral.c — why is explained in ephemeral.h), with ids from
 * EPH_ID_BASE up so an id says where its instance is. A lookup by key asks memory first; an update
 * that changes an instance's kind moves it; lists merge both in the order the statements give; the
 * sweeper only ever sees memory (persistent instances are never due). store_begin/commit/rollback
 * span both: memory writes inside a transaction keep an undo log.
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

#define SCHEMA_VERSION 3

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

static const char SCHEMA[] =
    CONFIG_TABLES
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

#define INST_COLS                                                                                         \
    "i.id, i.service_id, s.ns, s.name, i.cluster, i.ip, i.port, i.instance_id, i.weight, i.healthy,"     \
    " i.enabled, i.ephemeral, i.marked, i.metadata, i.app, i.registered_ms, i.last_beat_ms,"               \
    " i.hb_interval_ms, i.hb_timeout_ms, i.delete_timeout_ms"
#define SVC_COLS "id, ns, name, protect_threshold, metadata, selector, explicit, created_ms, empty_since_ms, revision"

enum stmt_id {
    S_SVC_GET, S_SVC_INSERT, S_SVC_UPDATE, S_SVC_DELETE, S_SVC_LIST, S_SVC_COUNT, S_SVC_TOUCH, S_SVC_TOUCH_MANY,
    S_SVC_NAMES,
    S_INST_FIND, S_INST_INSERT, S_INST_UPDATE, S_INST_GET, S_INST_GET_ID, S_INST_DELETE, S_INST_BEAT_FIND,
    S_INST_SET_HEALTH, S_INST_DELETE_ID, S_INST_FOREACH, S_INST_ALL, S_INST_IDS,
    S_COUNTS, S_CLEAR_INST, S_CLEAR_SVC, S_GC, S_BEGIN, S_COMMIT, S_ROLLBACK,
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
    [S_SVC_GET] = "SELECT " SVC_COLS " FROM services WHERE ns=?1 AND name=?2",
    [S_SVC_INSERT] = "INSERT INTO services(ns, name, protect_threshold, metadata, selector, explicit, created_ms,"
                     " empty_since_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    [S_SVC_UPDATE] = "UPDATE services SET protect_threshold=?2, metadata=coalesce(?3, metadata),"
                     " selector=coalesce(?4, selector) WHERE id=?1",
    [S_SVC_DELETE] = "DELETE FROM services WHERE id=?1",
    [S_SVC_LIST] = "SELECT " SVC_COLS " FROM services WHERE (?1 IS NULL OR ns=?1)"
                   " AND (?2 IS NULL OR (name >= ?2 AND name < ?3)) ORDER BY ns, name LIMIT ?4 OFFSET ?5",
    [S_SVC_COUNT] = "SELECT count(*) FROM services WHERE (?1 IS NULL OR ns=?1)"
                    " AND (?2 IS NULL OR (name >= ?2 AND name < ?3))",
    [S_SVC_TOUCH] = "UPDATE services SET revision=max(revision+1, ?3), empty_since_ms=CASE"
                    " WHEN nm_eph_count(?1) > 0 THEN 0 WHEN EXISTS(SELECT 1 FROM instances WHERE service_id=?1) THEN 0"
                    " WHEN empty_since_ms=0 THEN ?2 ELSE empty_since_ms END WHERE id=?1",
    [S_SVC_TOUCH_MANY] = "UPDATE services SET revision=max(revision+1, ?3), empty_since_ms=CASE"
                         " WHEN nm_eph_count(id) > 0 THEN 0"
                         " WHEN EXISTS(SELECT 1 FROM instances WHERE service_id=services.id) THEN 0"
                         " WHEN empty_since_ms=0 THEN ?2 ELSE empty_since_ms END"
                         " WHERE id IN (SELECT value FROM json_each(?1))",
    [S_SVC_NAMES] = "SELECT ns, name FROM services WHERE id=?1",
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
    [S_INST_DELETE_ID] = "DELETE FROM instances WHERE id=?1",
    [S_INST_FOREACH] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                       " WHERE i.service_id=?1 ORDER BY i.healthy DESC, i.cluster, i.ip, i.port",
    [S_INST_ALL] = "SELECT " INST_COLS " FROM instances i JOIN services s ON s.id=i.service_id"
                   " ORDER BY s.ns, s.name, i.cluster, i.ip, i.port",
    [S_INST_IDS] = "SELECT instance_id FROM instances WHERE service_id=?1",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM instances),"
                 " (SELECT count(*) FROM instances WHERE healthy)",
    [S_CLEAR_INST] = "DELETE FROM instances",
    [S_CLEAR_SVC] = "DELETE FROM services",
    [S_GC] = "DELETE FROM services WHERE NOT explicit AND empty_since_ms > 0 AND empty_since_ms < ?1"
             " AND NOT EXISTS(SELECT 1 FROM instances WHERE service_id=services.id)"
             " AND nm_eph_count(services.id)=0 RETURNING id",
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
    struct eph *eph;      /* the ephemeral instances (ephemeral.h) */
    int64_t generation;   /* bumped whenever a service row goes (store_generation) */
    _Atomic int64_t stamp_floor;   /* the highest change stamp handed out (store_stamp_*) */
};

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
    st->generation++;
    atomic_fetch_add(&st->stamp_floor, 1);
}

/* Returns the statement, reset and with bindings cleared. */
static sqlite3_stmt *S(struct store *st, enum stmt_id id)
{
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

/* nm_eph_count(service_id): how many ephemeral instances the service has, for the statements that
 * ask whether a service is empty (touch, the empty-service cleaner). */
static void sql_eph_count(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct store *st = sqlite3_user_data(c);
    sqlite3_result_int64(c, eph_count(st->eph, sqlite3_value_int64(argv[0])));
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

struct store *store_open(const char *path, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st || !(st->eph = eph_new())) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bool mem;
    if (open_db(path, &st->db, &mem, err, errlen)) goto fail;
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
    if (version == 1) {
        if (exec(st->db, MIGRATE_1_TO_2, err, errlen)) goto fail;
        version = 2;
    }
    if (version == 2 && exec(st->db, MIGRATE_2_TO_3, err, errlen)) goto fail;
    if (version == 0) {
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

    if (sqlite3_create_function(st->db, "nm_eph_count", 1, SQLITE_UTF8, st, sql_eph_count, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "registering nm_eph_count: %s", sqlite3_errmsg(st->db));
        goto fail;
    }
    if (prepare_range(st->db, st->stmt, 0, S_REG__COUNT, err, errlen)) goto fail;
    /* a database file carries the stamps of an earlier run: the first new one must be above them */
    sqlite3_stmt *mr = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(revision), 0) FROM services", -1, &mr, NULL) == SQLITE_OK &&
        sqlite3_step(mr) == SQLITE_ROW)
        atomic_store(&st->stamp_floor, sqlite3_column_int64(mr, 0));
    sqlite3_finalize(mr);
    return st;
fail:
    store_close(st);
    return NULL;
}

void store_close(struct store *st)
{
    if (!st) return;
    eph_free(st->eph);
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

const char *store_errmsg(struct store *st) { return sqlite3_errmsg(st->db); }

int store_begin(struct store *st)
{
    if (run(S(st, S_BEGIN))) return -1;
    eph_begin(st->eph);
    return 0;
}

int store_commit(struct store *st)
{
    if (run(S(st, S_COMMIT))) return -1;   /* the caller rolls back (memory too) */
    eph_commit(st->eph);
    return 0;
}

void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db)) run(S(st, S_ROLLBACK));
    eph_rollback(st->eph);
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
    service_rows_gone(st);   /* before the write: a failed one may still have changed something */
    if (run(s)) return -1;
    if (!sqlite3_changes(st->db)) return 1;
    return eph_remove_service(st->eph, id, NULL);
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

int store_service_touch(struct store *st, int64_t id, int64_t now_ms, int64_t real_ms)
{
    sqlite3_stmt *s = S(st, S_SVC_TOUCH);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms > 0 ? now_ms : 1);
    sqlite3_bind_int64(s, 3, store_stamp_next(st, real_ms));
    return run(s);
}

int store_service_touch_many(struct store *st, const int64_t *ids, size_t n, int64_t now_ms, int64_t real_ms)
{
    if (!n) return 0;
    size_t cap = n * 22 + 3, len = 1;   /* the ids as a JSON array, bound as text: ≤ 21 bytes each */
    char *list = malloc(cap);
    if (!list) return -1;
    list[0] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, i ? ",%lld" : "%lld", (long long)ids[i]);
    list[len++] = ']';
    sqlite3_stmt *s = S(st, S_SVC_TOUCH_MANY);
    sqlite3_bind_text(s, 1, list, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms > 0 ? now_ms : 1);
    sqlite3_bind_int64(s, 3, store_stamp_next(st, real_ms));   /* one stamp for the batch: each service's own grows */
    int rc = run(s);
    free(list);
    return rc;
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

static int sql_delete_id(struct store *st, int64_t id)
{
    sqlite3_stmt *s = S(st, S_INST_DELETE_ID);
    sqlite3_bind_int64(s, 1, id);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

/* Writes an ephemeral instance to memory: replacing `old` (memory) or the SQLite row `sql_id` (an
 * instance turning ephemeral: the row goes), or new. Kept from what it replaces: instance_id unless
 * set, registered_ms. */
static int write_ephemeral(struct store *st, const struct instance_rec *in, struct eph_inst *old, int64_t sql_id)
{
    struct instance_rec m = *in, prev = {0};
    const char *ns = NULL, *name = NULL;
    sqlite3_stmt *n = NULL;
    int rc = -1;
    if (old) {
        const struct instance_rec *o = eph_rec(old);
        if (!m.instance_id) m.instance_id = o->instance_id;
        m.registered_ms = o->registered_ms;
    } else if (sql_id) {
        if (sql_instance_by_id(st, sql_id, &prev)) goto out;
        if (!m.instance_id) m.instance_id = prev.instance_id;
        m.registered_ms = prev.registered_ms;
    } else if (!m.instance_id) {
        goto out;
    }
    if (eph_count(st->eph, m.service_id) == 0) {   /* the group may not exist: it needs the names */
        n = S(st, S_SVC_NAMES);
        sqlite3_bind_int64(n, 1, m.service_id);
        if (sqlite3_step(n) != SQLITE_ROW) goto out;
        ns = col_text(n, 0);
        name = col_text(n, 1);
    }
    if (sql_id && sql_delete_id(st, sql_id)) goto out;
    rc = eph_put(st->eph, &m, ns ? ns : "", name ? name : "", old, NULL);
out:
    if (n) sqlite3_reset(n);
    store_instance_rec_free(&prev);
    return rc;
}

int store_instance_write(struct store *st, const struct instance_rec *in, int64_t existing_id)
{
    struct eph_inst *old = existing_id >= EPH_ID_BASE ? eph_get_id(st->eph, existing_id) : NULL;
    if (existing_id >= EPH_ID_BASE && !old) return -1;
    if (in->ephemeral) return write_ephemeral(st, in, old, old ? 0 : existing_id);
    if (old) {   /* turning persistent: a row with what it keeps, and the memory instance goes */
        const struct instance_rec *o = eph_rec(old);
        struct instance_rec m = *in;
        if (!m.instance_id) m.instance_id = o->instance_id;
        m.registered_ms = o->registered_ms;
        sqlite3_stmt *s = S(st, S_INST_INSERT);
        bind_instance(s, &m, false);
        if (run(s)) return -1;
        return eph_remove(st->eph, old);
    }
    if (existing_id > 0) {
        sqlite3_stmt *u = S(st, S_INST_UPDATE);
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

/* The id of (service, cluster, ip, port) in *id (memory or SQLite), 0 when there is none. 0 ok,
 * -1 error. */
static int find_instance_id(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                            int64_t *id)
{
    struct eph_inst *e = eph_get(st->eph, service_id, cluster, ip, port);
    if (e) {
        *id = eph_rec(e)->id;
        return 0;
    }
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
    struct eph_inst *e = eph_get(st->eph, service_id, cluster, ip, port);
    if (e) {
        *out = *eph_rec(e);
        return inst_own(out);
    }
    sqlite3_stmt *s = S(st, S_INST_GET);
    bind_key(s, service_id, cluster, ip, port);
    return step_owned(s, out);
}

int store_instance_delete(struct store *st, int64_t service_id, const char *cluster, const char *ip, int port,
                          bool ephemeral)
{
    if (ephemeral) {
        struct eph_inst *e = eph_get(st->eph, service_id, cluster, ip, port);
        return e ? eph_remove(st->eph, e) : 1;
    }
    sqlite3_stmt *s = S(st, S_INST_DELETE);
    bind_key(s, service_id, cluster, ip, port);
    sqlite3_bind_int(s, 5, 0);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_instance_beat(struct store *st, const char *ns, const char *service, const char *cluster, const char *ip,
                        int port, int64_t now_ms, struct beat_result *out)
{
    struct eph_inst *e = eph_get_named(st->eph, ns, service, cluster, ip, port);
    if (e) {
        const struct instance_rec *r = eph_rec(e);
        if (out) {
            out->interval_ms = r->hb_interval_ms;
            out->service_id = r->service_id;
            out->prev_beat_ms = r->last_beat_ms;
            out->was_unhealthy = !r->healthy;
            snprintf(out->instance_id, sizeof out->instance_id, "%s", r->instance_id);
        }
        return eph_beat(st->eph, e, now_ms);
    }
    /* persistent instances are found, and beats change nothing about them */
    sqlite3_stmt *f = S(st, S_INST_BEAT_FIND);
    bind_text(f, 1, ns);
    bind_text(f, 2, service);
    bind_text(f, 3, cluster);
    bind_text(f, 4, ip);
    sqlite3_bind_int(f, 5, port);
    int rc = sqlite3_step(f);
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
        struct eph_inst *e = eph_get_id(st->eph, id);
        return e ? eph_set_health(st->eph, e, healthy) : 1;
    }
    sqlite3_stmt *s = S(st, S_INST_SET_HEALTH);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, healthy);
    if (run(s)) return -1;
    return sqlite3_changes(st->db) ? 0 : 1;
}

int store_instance_delete_id(struct store *st, int64_t id)
{
    if (id >= EPH_ID_BASE) {
        struct eph_inst *e = eph_get_id(st->eph, id);
        return e ? eph_remove(st->eph, e) : 1;
    }
    return sql_delete_id(st, id);
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

/* Calls cb for the SQLite rows of `s` and the memory views `mem` (sorted by cmp) merged in cmp's
 * order, which is the statement's ORDER BY. */
static int foreach_merged(sqlite3_stmt *s, const struct instance_rec **mem, size_t n, rec_cmp cmp,
                          store_instance_cb cb, void *ctx)
{
    size_t k = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
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
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_instance_foreach(struct store *st, int64_t service_id, store_instance_cb cb, void *ctx)
{
    const struct instance_rec **mem = NULL;
    size_t n = 0;
    if (eph_list(st->eph, service_id, &mem, &n)) return -1;
    if (n > 1) qsort(mem, n, sizeof *mem, qsort_service_order);
    sqlite3_stmt *s = S(st, S_INST_FOREACH);
    sqlite3_bind_int64(s, 1, service_id);
    int rc = foreach_merged(s, mem, n, cmp_service_order, cb, ctx);
    free(mem);
    return rc;
}

int store_instance_foreach_expired(struct store *st, int64_t now_ms, long limit, store_instance_cb cb, void *ctx)
{
    /* only ephemeral instances are ever due, and they all live in memory */
    long total = 0;
    eph_totals(st->eph, &total, NULL);
    size_t cap = (size_t)(limit > 0 && limit < total ? limit : total);
    if (!cap) return 0;
    const struct instance_rec **due = malloc(cap * sizeof *due);
    if (!due) return -1;
    size_t n = eph_due(st->eph, now_ms, cap, due);
    for (size_t k = 0; k < n; k++)
        if (cb(ctx, due[k])) break;
    free(due);
    return 0;
}

long store_instance_sweep_due(struct store *st, int64_t now_ms, long limit, store_verdict_cb cb, void *ctx)
{
    return eph_sweep(st->eph, now_ms, limit > 0 ? (size_t)limit : SIZE_MAX, cb, ctx);   /* only ephemeral are due */
}

int store_instance_foreach_all(struct store *st, store_instance_cb cb, void *ctx)
{
    const struct instance_rec **mem = NULL;
    size_t n = 0;
    if (eph_list(st->eph, 0, &mem, &n)) return -1;
    if (n > 1) qsort(mem, n, sizeof *mem, qsort_all_order);
    int rc = foreach_merged(S(st, S_INST_ALL), mem, n, cmp_all_order, cb, ctx);
    free(mem);
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
    const struct instance_rec **mem = NULL;
    size_t n = 0, cap = 64;
    unsigned char *used = calloc(cap, 1);
    if (!used || eph_list(st->eph, service_id, &mem, &n)) { free(used); return -1; }
    bool oom = false;
    for (size_t k = 0; k < n; k++) oom |= mark_numeric(mem[k]->instance_id, &used, &cap) != 0;
    free(mem);
    sqlite3_stmt *s = S(st, S_INST_IDS);
    sqlite3_bind_int64(s, 1, service_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) oom |= mark_numeric(col_text(s, 0), &used, &cap) != 0;
    sqlite3_reset(s);
    if (oom) rc = SQLITE_NOMEM;
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
    long mem = 0, mem_healthy = 0;
    eph_totals(st->eph, &mem, &mem_healthy);
    if (services) *services = (long)sqlite3_column_int64(s, 0);
    if (instances) *instances = (long)sqlite3_column_int64(s, 1) + mem;
    if (healthy) *healthy = (long)sqlite3_column_int64(s, 2) + mem_healthy;
    sqlite3_reset(s);
    return 0;
}

int store_forget_ephemeral(struct store *st, const char *ns, const char *service, int64_t now_ms, int64_t real_ms,
                           store_service_id_cb cb, void *ctx, long *removed)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (eph_services(st->eph, ns, service, &ids, &n)) return -1;
    long total = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        long k = 0;
        if (eph_remove_instances(st->eph, ids[i], &k)) { rc = -1; break; }
        total += k;
        store_service_touch(st, ids[i], now_ms, real_ms);
        if (cb) cb(ctx, ids[i]);
    }
    free(ids);
    if (removed) *removed = total;
    return rc;
}

int store_clear(struct store *st)
{
    service_rows_gone(st);
    if (run(S(st, S_CLEAR_INST)) || run(S(st, S_CLEAR_SVC))) return -1;
    return eph_clear(st->eph);
}

int store_gc_empty_services(struct store *st, int64_t cutoff_ms, long *removed)
{
    sqlite3_stmt *s = S(st, S_GC);
    sqlite3_bind_int64(s, 1, cutoff_ms);
    int rc, n = 0;
    bool oom = false;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {   /* RETURNING: the ids of the services deleted */
        oom |= eph_remove_service(st->eph, sqlite3_column_int64(s, 0), NULL) != 0;   /* empty groups */
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE || oom) { service_rows_gone(st); return -1; }
    if (n) service_rows_gone(st);
    if (removed) *removed = n;
    return 0;
}

int64_t store_generation(const struct store *st) { return st->generation; }

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
