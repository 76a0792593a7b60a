/*
 * log — one line per request and per health transition, as text or JSON lines, on stderr.
 *
 * Threading: each line is written with one fwrite under the stdio lock, so lines never interleave.
 */
#ifndef NACOS_MOCK_LOG_H
#define NACOS_MOCK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_format { LOG_TEXT = 0, LOG_JSON = 1 };
enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

void log_set_format(enum log_format f);
void log_set_quiet(bool quiet);          /* no request lines (other info lines stay) */
void log_set_level(enum log_level level); /* lines below `level` are dropped; requests and health are info */
/* "debug" | "info" | "warn" | "error" → level, -1 if unknown. */
int log_level_parse(const char *s);
/* Free-form line (start-up, warnings). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct log_request {
    const char *method, *path, *api, *service, *ip;
    int port, status;
    double duration_ms;
    const char *fault_id;     /* NULL when no fault hit */
    int node;                 /* the node it came in on; < 0 = not shown (one node). Set it: 0 is node 0 */
};
void log_request(const struct log_request *r);

/* A health transition: from/to are "HEALTHY", "UNHEALTHY", "REMOVED". Names are cleaned like request
 * lines' (control characters and bytes that are not UTF-8 become \xNN). */
void log_transition(const char *instance_id, const char *ns, const char *service, const char *from,
                    const char *to, int64_t since_beat_ms);

/* Transition lines collected and written together: a sweep that changes 100,000 instances writes
 * ~20 MB of lines, and one write(2) and one formatted timestamp per line cost more than the sweep
 * itself. Lines are formatted by hand (no printf) into the buffer, all stamped with the time of the
 * first, and written in one fwrite by log_batch_flush — or dropped by log_batch_discard (the sweeper
 * logs only what its transaction committed). A batch starts zeroed ({0}); owned by its user, not
 * thread-safe. */
struct log_batch {
    char *buf;
    size_t len, cap;
    char ts[40];
};
void log_batch_transition(struct log_batch *b, const char *instance_id, const char *ns, const char *service,
                          const char *from, const char *to, int64_t since_beat_ms);
void log_batch_flush(struct log_batch *b);
void log_batch_discard(struct log_batch *b);
/* Flushes and frees the buffer. */
void log_batch_free(struct log_batch *b);

#endif
