/*
 * log — one line per request and per health transition, as text or JSON lines, on stderr.
 *
 * Threading: each line is written with one fwrite under the stdio lock, so lines never interleave.
 */
#ifndef NACOS_MOCK_LOG_H
#define NACOS_MOCK_LOG_H

#include <stdbool.h>
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
};
void log_request(const struct log_request *r);

/* A health transition: from/to are "HEALTHY", "UNHEALTHY", "REMOVED". */
void log_transition(const char *instance_id, const char *ns, const char *service, const char *from,
                    const char *to, int64_t since_beat_ms);

#endif
