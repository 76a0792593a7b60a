/*
 * v2_envelope.c — the v2 Open API answer form (see v2_envelope.h). Written as text (json_text), so
 * a cached instance list goes into `data` as it is, without being parsed again.
 */
#include "nacos_mock/v2_envelope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int code;
    const char *text;
} CODES[] = {
    {V2_SUCCESS, "success"},
    {V2_PARAMETER_MISSING, "parameter missing"},
    {V2_ACCESS_DENIED, "access denied"},
    {V2_DATA_ACCESS_ERROR, "data access error"},
    {V2_TENANT_PARAM_ERROR, "'tenant' parameter error"},
    {V2_PARAMETER_VALIDATE_ERROR, "parameter validate error"},
    {V2_MEDIA_TYPE_ERROR, "MediaType Error"},
    {V2_RESOURCE_NOT_FOUND, "resource not found"},
    {V2_RESOURCE_CONFLICT, "resource conflict"},
    {V2_SERVICE_NAME_ERROR, "service name error"},
    {V2_WEIGHT_ERROR, "weight error"},
    {V2_INSTANCE_METADATA_ERROR, "instance metadata error"},
    {V2_INSTANCE_NOT_FOUND, "instance not found"},
    {V2_INSTANCE_ERROR, "instance error"},
    {V2_SERVICE_METADATA_ERROR, "service metadata error"},
    {V2_SELECTOR_ERROR, "selector error"},
    {V2_SERVICE_ALREADY_EXIST, "service already exist"},
    {V2_SERVICE_NOT_EXIST, "service not exist"},
    {V2_SERVICE_DELETE_FAILURE, "service delete failure"},
    {V2_HEALTHY_PARAM_MISS, "healthy param miss"},
    {V2_HEALTH_CHECK_STILL_RUNNING, "health check still running"},
    {V2_ILLEGAL_NAMESPACE, "illegal namespace"},
    {V2_NAMESPACE_NOT_EXIST, "namespace not exist"},
    {V2_NAMESPACE_ALREADY_EXIST, "namespace already exist"},
    {V2_ILLEGAL_STATE, "illegal state"},
    {V2_NODE_INFO_ERROR, "node info error"},
    {V2_NODE_DOWN_FAILURE, "node down failure"},
    {V2_SERVER_ERROR, "server error"},
};

const char *v2_code_text(int code)
{
    for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++)
        if (CODES[i].code == code) return CODES[i].text;
    return "server error";
}

int v2_code_of_status(int status)
{
    switch (status) {
    case 400: return V2_PARAMETER_VALIDATE_ERROR;
    case 401:
    case 403: return V2_ACCESS_DENIED;
    case 404:
    case 405: return V2_RESOURCE_NOT_FOUND;
    case 409: return V2_RESOURCE_CONFLICT;
    default: return V2_SERVER_ERROR;
    }
}

/* {"code":code,"message":message,"data": then data_raw (already JSON) then }. */
static void envelope(struct reply *r, int status, int code, const char *message, const char *data_raw, size_t len)
{
    struct json_text t = {0};
    json_text_reserve(&t, len + 64);
    JSON_TEXT_LIT(&t, "{\"code\":");
    json_text_int(&t, code);
    JSON_TEXT_LIT(&t, ",\"message\":");
    json_text_string(&t, message);
    JSON_TEXT_LIT(&t, ",\"data\":");
    json_text_raw(&t, data_raw, len);
    JSON_TEXT_LIT(&t, "}");
    if (t.oom) {
        free(t.p);
        reply_text(r, 500, "caused: out of memory;");
        return;
    }
    reply_json_owned(r, status, t.p, t.len);
}

void v2_ok_raw(struct reply *r, const char *json, size_t len)
{
    envelope(r, 200, V2_SUCCESS, v2_code_text(V2_SUCCESS), json, len);
}

void v2_ok(struct reply *r, cJSON *data)
{
    char *text = data ? cJSON_PrintUnformatted(data) : NULL;
    cJSON_Delete(data);
    if (data && !text) {
        reply_text(r, 500, "caused: out of memory;");
        return;
    }
    if (text) v2_ok_raw(r, text, strlen(text));
    else v2_ok_raw(r, "null", 4);
    cJSON_free(text);
}

/* A JSON string, for data. */
static void envelope_string(struct reply *r, int status, int code, const char *message, const char *s)
{
    struct json_text q = {0};
    json_text_string(&q, s);
    if (q.oom) {
        free(q.p);
        reply_text(r, 500, "caused: out of memory;");
        return;
    }
    envelope(r, status, code, message, q.p, q.len);
    free(q.p);
}

void v2_ok_string(struct reply *r, const char *data)
{
    envelope_string(r, 200, V2_SUCCESS, v2_code_text(V2_SUCCESS), data);
}

void v2_error(struct reply *r, int status, int code, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    envelope_string(r, status, code, v2_code_text(code), n < 0 ? "out of memory" : msg);
    free(msg);
}

void v2_failure(struct reply *r, int status, int code, const char *message)
{
    envelope(r, status, code, message, "null", 4);
}
