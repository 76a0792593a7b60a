/*
 * metrics — request counters and duration histograms by API, exposed with the registry, sweeper,
 * push and fault figures as Prometheus text at GET /__mock/metrics.
 *
 * Threading: own mutex (a leaf lock); metrics_record is called once per finished request.
 */
#ifndef NACOS_MOCK_METRICS_H
#define NACOS_MOCK_METRICS_H

#include <stddef.h>

struct app;
struct metrics;

struct metrics *metrics_create(void);
void metrics_free(struct metrics *m);
void metrics_reset(struct metrics *m);
/* api NULL = no route; status 0 = dropped connection. */
void metrics_record(struct metrics *m, const char *api, int status, double seconds);
/* Prometheus text exposition format 0.0.4 of everything; caller frees. Takes app->mu briefly. */
char *metrics_render(struct app *app, size_t *len);

#endif
