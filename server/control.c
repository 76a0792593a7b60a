/*
 * control.c — /__mock/ handlers (see control.h and control-api.md).
 */
#include "nacos_mock/control.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/sweeper.h"

cJSON *control_body_or_reply(const struct request *req, struct reply *rep, bool allow_empty)
{
    const char *b = req->body;
    while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t') b++;
    if (!*b) {
        if (allow_empty) return cJSON_CreateObject();
        reply_error_json(rep, 400, "request body must be a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
    if (!j) {
        reply_error_json(rep, 400, "request body is not valid JSON (near byte %ld)",
                         end ? (long)(end - req->body) : 0L);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error_json(rep, 400, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

bool control_authorized(const struct app *app, const struct request *req)
{
    const char *t = app->cfg->admin_token;
    if (!t || !*t) return true;
    const char *a = req->authorization;
    return a && strncmp(a, "Bearer ", 7) == 0 && strcmp(a + 7, t) == 0;
}

static cJSON *clock_json(struct app *app)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "nowMs", clock_now_ms(&app->clock));
    json_add_int(o, "offsetMs", clock_offset_ms(&app->clock));
    return o;
}

void h_mock_clock_get(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, clock_json(app));
}

void h_mock_clock_advance(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, false);
    if (!body) return;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(body, "ms");
    if (!cJSON_IsNumber(ms) || ms->valuedouble < 0 || ms->valuedouble != floor(ms->valuedouble) ||
        ms->valuedouble > 1e13) {
        cJSON_Delete(body);
        reply_error_json(rep, 400, "field 'ms' must be a non-negative integer number of milliseconds");
        return;
    }
    clock_advance(&app->clock, (int64_t)ms->valuedouble);
    cJSON_Delete(body);
    int64_t now = clock_now_ms(&app->clock);
    struct sweep_result r = {0};
    if (sweeper_run_once(app, now, 0, &r) < 0) {
        sweep_result_free(&r);
        reply_error_json(rep, 500, "health sweep failed");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "nowMs", now);
    json_add_int(o, "offsetMs", clock_offset_ms(&app->clock));
    cJSON *changes = cJSON_AddArrayToObject(o, "changes");
    for (size_t i = 0; i < r.n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "instanceId", r.v[i].instance_id);
        cJSON_AddStringToObject(c, "namespaceId", r.v[i].ns);
        cJSON_AddStringToObject(c, "serviceName", r.v[i].service);
        cJSON_AddStringToObject(c, "from", r.v[i].from);
        cJSON_AddStringToObject(c, "to", r.v[i].to);
        json_add_int(c, "sinceLastBeatMs", r.v[i].since_beat_ms);
        cJSON_AddItemToArray(changes, c);
    }
    sweep_result_free(&r);
    reply_json(rep, 200, o);
}
