/*
 * store — the registry, and the only module that says sqlite3_. Services and persistent instances
 * are SQLite rows, every statement prepared once at open, parameters always bound; ephemeral
 * instances live in memory (ephemeral.h says why) and never reach the database, and every service
 * has an entry in memory too (the directory), which is what requests read: its revision and
 * empty-since time live only there. `:memory:` by default; a file path opens it in WAL mode with a
 * busy timeout, and services and persistent instances survive a restart while ephemeral ones do not
 * (a restarted Nacos has lost them too).
 *
 * Invariants: an instance belongs to exactly one service (deleting the service deletes it, in either
 * home); an instance is keyed by (namespace, grouped service, cluster, ip, port), unique across both
 * homes; an ephemeral instance's due time (last beat + beat timeout while healthy, + delete timeout
 * once unhealthy) is kept by every write; a service's count of persistent instances in memory is
 * the number of its SQLite instance rows. Transactions (store_begin/commit/rollback) span both.
 *
 * Locking. The memory is split into shards by service (ephemeral.h), each with its own lock, which
 * the store takes itself: a call locks the shard it needs for its duration; a transaction keeps
 * every shard it touched locked until it commits or rolls back, so nobody sees its writes before
 * (nor ever, rolled back). SQLite, the id-to-shard table and anything touching several shards need
 * app->mu held by the caller. Without app->mu a caller may use memory only: either single calls
 * that name their service (store_service_state, store_service_get, store_instance_beat, ...), or a
 * transaction of one service opened with store_begin_service(..., alone = true) — inside it the
 * store refuses whatever needs more (SQLite, another shard) with STORE_SLOW, and the caller rolls
 * back and does it again under app->mu. Lock order: app->mu, then shards in increasing index (only
 * app->mu's holder ever holds more than one), then leaf locks (list cache, subs, events, journal,
 * metrics, faults). The store keeps per thread what that thread holds, so calls inside a
 * transaction or nested calls never lock a shard twice.
 * Ownership: *_rec filled by store_*_get own their strings (free with store_*_rec_free); records
 * handed to *_foreach callbacks are views valid only during the callback (the shard is locked
 * meanwhile: callbacks must not call back into the store for another shard without app->mu).
 */
#ifndef NACOS_MOCK_STORE_H
#define NACOS_MOCK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/lockstat.h"
#include "nacos_mock/records.h"

struct store;

/* Returned instead of 0/1/-1 inside an alone transaction (store_begin_service) when the call needs
 * what such a transaction may not use: SQLite or another shard. Roll back and redo it under app->mu. */
#define STORE_SLOW (-2)
/* The number of memory shards (ephemeral.h); the sweeper works through them one at a time. */
#define STORE_SHARDS 32u

/* Opens (creating and migrating the schema). Returns NULL with a message in err. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_errmsg(struct store *st);

/* A transaction over SQLite and every shard it touches (app->mu held). */
int store_begin(struct store *st);
/* A transaction of the service (ns, name) alone: its shard locked until commit / rollback. `alone`:
 * the caller does not hold app->mu — SQLite and other shards are then refused (STORE_SLOW); else
 * it may do anything a store_begin transaction can except undo SQLite writes (use for reads). */
int store_begin_service(struct store *st, const char *ns, const char *name, bool alone);
/* A transaction of memory alone (app->mu held): the shards it touches, no SQLite statement may be
 * part of it (the sweeper's batches, which change only ephemeral instances and revisions). */
int store_begin_memory(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Writes the change-stamp floor to the database when it moved (a file only; app->mu held): the
 * sweeper thread after each sweep, and store_close. After a kill -9, stamps of the last second may
 * be handed out again only if the floor had run ahead of real time (over 1,000 changes a second). */
int store_save_stamps(struct store *st);
/* The shards' lock hold times added to *t (lock-stats builds). */
void store_lockstat(struct store *st, struct lockstat_totals *t);
/* Tells the store how to ask whether the calling thread holds app->mu (the app sets it at start):
 * without it, whatever needs SQLite or the id-to-shard table answers STORE_SLOW instead of racing.
 * Unset (a store used alone, as its unit tests do), everything is allowed. */
void store_set_lock_probe(struct store *st, bool (*held)(const void *ctx), const void *ctx);

/* ---- services. Functions return 0 ok, 1 not found / already exists (as documented), -1 error */
/* Fills *out (owned). 0 found, 1 not found. */
int store_service_get(struct store *st, const char *ns, const char *name, struct service_rec *out);
/* What a cached list needs, without copying anything: the service's id and revision. 0, 1 unknown. */
int store_service_state(struct store *st, const char *ns, const char *name, int64_t *id, int64_t *revision);
void store_service_rec_free(struct service_rec *s);
/* Creates; 1 if it exists already. */
int store_service_create(struct store *st, const char *ns, const char *name, double protect_threshold,
                         const char *metadata, const char *selector, bool explicit_, int64_t now_ms,
                         int64_t *id_out);
/* Returns the id of (ns,name), creating an implicit service when absent. */
int store_service_ensure(struct store *st, const char *ns, const char *name, int64_t now_ms, int64_t *id_out);
/* NULL metadata/selector = keep. 1 if unknown. */
int store_service_update(struct store *st, int64_t id, double protect_threshold, const char *metadata,
                         const char *selector);
/* Deletes the service and its instances. 1 if unknown. */
int store_service_delete(struct store *st, int64_t id);
typedef int (*store_service_cb)(void *ctx, const struct service_rec *s);   /* non-zero stops */
/* Services of `ns` whose grouped name starts with `group@@` (group NULL = all groups in ns; ns NULL
 * = every namespace), ordered by name; `offset`/`limit` page them (limit < 0 = all). *total gets
 * the count before paging. */
int store_service_list(struct store *st, const char *ns, const char *group, long offset, long limit,
                       store_service_cb cb, void *ctx, long *total);
/* After a change of its instances, health, threshold or metadata: revision = a new stamp
 * (store_stamp_next at real time real_ms), and empty_since set (to now_ms, virtual) or cleared. */
int store_service_touch(struct store *st, int64_t id, int64_t now_ms, int64_t real_ms);
/* The same for n services in one statement (the sweeper changes hundreds per batch). */
int store_service_touch_many(struct store *st, const int64_t *ids, size_t n, int64_t now_ms, int64_t real_ms);

/* ---- change stamps (lastRefTime). Clients keep the newest stamp they saw per service and drop any
 * answer or push that is not newer (Go: `>=`), so within one store no stamp a client can have seen is
 * ever given again, across every way a service can change or go (delete, clear/reset, forget,
 * collection of empty services, snapshot loads) and whichever transport or node asks. One floor for
 * the whole store: the highest stamp handed out (at open: the highest revision in a database file).
 * Thread-safe (atomic), so readers outside the registry lock may use it. */
/* A stamp for a change: max(floor + 1, real_ms); the floor becomes it. */
int64_t store_stamp_next(struct store *st, int64_t real_ms);
/* The stamp of an unknown or never-changed service's answer: max(floor, real_ms), and the floor
 * becomes it, so any later change gets a higher one. */
int64_t store_stamp_peek(struct store *st, int64_t real_ms);

/* ---- instances */
/* Inserts or replaces the instance keyed by (service, cluster, ip, port). A replaced instance keeps
 * its instance_id unless in->instance_id is set; registered_ms is kept. *created says which. */
int store_instance_upsert(struct store *st, const struct instance_rec *in, bool *created);
/* The same when the caller has just looked the instance up in this transaction: existing_id > 0
 * replaces that row (instance_id kept unless set), 0 inserts (in->instance_id required). */
int store_instance_write(struct store *st, const struct instance_rec *in, int64_t existing_id);
/* 0 found (owned record), 1 not found. */
int store_instance_get(struct store *st, int64_t service_id, const char *cluster, const char *ip,
                       int port, struct instance_rec *out);
void store_instance_rec_free(struct instance_rec *r);
/* Deletes when the ephemeral flag matches. 0 deleted, 1 nothing matched. */
int store_instance_delete(struct store *st, int64_t service_id, const char *cluster, const char *ip,
                          int port, bool ephemeral);
/* What a beat found. */
struct beat_result {
    int64_t service_id;
    int64_t interval_ms;         /* the instance's beat interval */
    int64_t prev_beat_ms;        /* its last beat before this one */
    bool was_unhealthy;          /* health was restored by this beat (the caller logs and pushes) */
    char instance_id[1600];      /* when was_unhealthy (for the log line and the event), else "" */
};
/* Records a beat at now: last_beat = now, healthy = 1 (ephemeral only; persistent instances are
 * found but unchanged). 0 found (*out filled, may be NULL), 1 unknown, -1 error. */
int store_instance_beat(struct store *st, const char *ns, const char *service, const char *cluster,
                        const char *ip, int port, int64_t now_ms, struct beat_result *out);
/* Sets health (manual health API / sweeper). 0 ok, 1 unknown. */
int store_instance_set_health(struct store *st, int64_t id, bool healthy);
int store_instance_delete_id(struct store *st, int64_t id);
typedef int (*store_instance_cb)(void *ctx, const struct instance_rec *r);  /* non-zero stops */
/* Instances of a service ordered healthy first, then by cluster, ip, port. */
int store_instance_foreach(struct store *st, int64_t service_id, store_instance_cb cb, void *ctx);
/* Ephemeral instances whose expire_at < now (strictly past due), oldest first (ties: by id within a
 * shard), at most `limit` (views). */
int store_instance_foreach_expired(struct store *st, int64_t now_ms, long limit, store_instance_cb cb,
                                   void *ctx);
/* Visits up to `limit` due ephemeral instances (expire_at < now) of one shard (0..STORE_SHARDS-1),
 * soonest first, asks cb what to do with each and does it at once: a sweep step without copying
 * anything out (foreach_expired + one write per instance costs three times as much). Meant to run
 * inside a transaction: a rollback undoes every verdict applied. Returns how many were visited, -1
 * on error. */
long store_instance_sweep_due(struct store *st, unsigned shard, int64_t now_ms, long limit, store_verdict_cb cb,
                              void *ctx);
/* Whether the shard has a due instance. */
bool store_any_due(struct store *st, unsigned shard, int64_t now_ms);
/* Every instance of every service (views), ordered by namespace, service, cluster, ip, port. */
int store_instance_foreach_all(struct store *st, store_instance_cb cb, void *ctx);
/* Smallest integer id (as text) not yet used by an instance of the service (snowflake-style ids). */
int store_instance_next_numeric_id(struct store *st, int64_t service_id, long *out);

/* Counts for metrics. */
int store_counts(struct store *st, long *services, long *instances, long *healthy);

typedef void (*store_service_id_cb)(void *ctx, int64_t service_id);
/* Removes ephemeral instances (ns/service NULL = all); returns how many via *removed. Each service
 * that lost instances is touched and reported to cb (may be NULL). */
int store_forget_ephemeral(struct store *st, const char *ns, const char *service, int64_t now_ms, int64_t real_ms,
                           store_service_id_cb cb, void *ctx, long *removed);
/* Empties the whole registry. */
int store_clear(struct store *st);
/* Implicit services that have been empty since before `cutoff_ms` are deleted. */
int store_gc_empty_services(struct store *st, int64_t cutoff_ms, long *removed);
/* Grows whenever a service row is deleted (delete, clear, empty-service cleanup; and on any failed
 * attempt). Together with a service's id and revision it names one state of that service for
 * caches: ids can be reused after a delete and revisions restart. */
int64_t store_generation(const struct store *st);

/* ======================================================================== configs
 * The config center's tables (config, config_history) live in the same database as the registry
 * (the same file with --db) but are used through a connection of their own, `struct cfg_store`,
 * opened after store_open (which creates and migrates the schema): the config core (cs_core.h)
 * serialises it under its own lock, so a 10 MiB publish never holds the registry lock and the two
 * never wait for each other in memory. With a file both connections write the same WAL database;
 * transactions start with BEGIN IMMEDIATE on both, so neither ever has to give up half-way.
 * With :memory: the config connection is a database of its own (nothing to share, nothing persisted).
 * Threading: not thread-safe; the config core holds its lock around every call.
 * Keys are (ns, group, data_id) with ns already normalised by the caller ("public" for the public
 * namespace). Content is bytes with a length (validated UTF-8 without NUL by the caller).
 */
struct cfg_store;

struct config_rec {
    int64_t id;
    const char *ns, *group, *data_id;
    const char *content;
    size_t content_len;
    const char *md5, *type, *app_name, *desc, *tags, *encrypted_data_key, *src_user, *src_ip;
    int64_t created_ms, modified_ms;
    void *owned_;                /* internal: backing allocation of an owned record */
};

struct config_history_rec {
    int64_t id;                  /* the nid */
    const char *ns, *group, *data_id, *app_name, *content, *md5, *encrypted_data_key, *src_ip, *src_user;
    size_t content_len;
    const char *op_type;         /* "I" (holds the new content), "U", "D" (hold the content before) */
    int64_t created_ms, modified_ms;
};

/* Keep at most this many history entries per config, and of them only as many as fit in
 * CONFIG_HISTORY_BYTES of content (the newest is always kept): 100 versions of a 10 MiB config
 * would otherwise hold 1 GB. */
#define CONFIG_HISTORY_KEEP 100
#define CONFIG_HISTORY_BYTES (64L * 1024 * 1024)

/* Opens the config connection to `path` (":memory:" or NULL: a database of its own). For a file,
 * store_open must have opened (created / migrated) it first. NULL with a message in err. */
struct cfg_store *store_config_open(const char *path, char *err, size_t errlen);
void store_config_close(struct cfg_store *cs);
const char *store_config_errmsg(struct cfg_store *cs);
int store_config_begin(struct cfg_store *cs);
int store_config_commit(struct cfg_store *cs);
void store_config_rollback(struct cfg_store *cs);

/* The md5 of a config into md5[33]. 0 found, 1 absent ("" in md5), -1 error. */
int store_config_md5(struct cfg_store *cs, const char *ns, const char *group, const char *data_id, char md5[33]);
/* The config as an owned record (one allocation; free with store_config_rec_free). 0 found, 1 absent. */
int store_config_get(struct cfg_store *cs, const char *ns, const char *group, const char *data_id,
                     struct config_rec *out);
void store_config_rec_free(struct config_rec *r);
/* Inserts (created_ms = modified_ms = now) or updates (created_ms kept) the config keyed by
 * in->ns/group/data_id with every field of `in` (id, created_ms, modified_ms ignored; NULL strings
 * are stored as ""). *created says which. */
int store_config_put(struct cfg_store *cs, const struct config_rec *in, int64_t now_ms, bool *created);
/* Deletes. 0 deleted, 1 absent. */
int store_config_delete(struct cfg_store *cs, const char *ns, const char *group, const char *data_id);
/* Appends the config's current row to its history as op_type ("I", "U" or "D"), made by
 * src_ip/src_user at now_ms, then prunes the history to CONFIG_HISTORY_KEEP / _BYTES. 0 ok (also
 * when the config is absent: nothing appended). */
int store_config_history_add(struct cfg_store *cs, const char *ns, const char *group, const char *data_id,
                             const char *op_type, const char *src_ip, const char *src_user, int64_t now_ms);

typedef int (*store_config_cb)(void *ctx, const struct config_rec *r);   /* views; non-zero stops */
/* What a search selects: NULL = any. data_id / group are exact, or with glob = true patterns
 * where `*` matches any run of characters (every other character is literal). */
struct config_filter {
    const char *ns, *data_id, *group, *app_name;
    bool glob;
};
/* Configs matching f ordered by id, paged (limit < 0 = all); *total gets the count before paging. */
int store_config_search(struct cfg_store *cs, const struct config_filter *f, long offset, long limit,
                        store_config_cb cb, void *ctx, long *total);
/* Every config ordered by namespace, group, data_id (views). */
int store_config_foreach(struct cfg_store *cs, store_config_cb cb, void *ctx);
/* Removes every config and all history. */
int store_config_clear(struct cfg_store *cs);

typedef int (*store_history_cb)(void *ctx, const struct config_history_rec *r);   /* views */
/* History of one config, newest first, paged; *total before paging. */
int store_config_history(struct cfg_store *cs, const char *ns, const char *group, const char *data_id, long offset,
                         long limit, store_history_cb cb, void *ctx, long *total);
/* One history entry by nid (cb called once when found). 0 found, 1 absent. */
int store_config_history_get(struct cfg_store *cs, int64_t nid, store_history_cb cb, void *ctx);

#endif
