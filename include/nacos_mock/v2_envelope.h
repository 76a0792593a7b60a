/*
 * v2_envelope — the answer form of the Nacos v2 Open API (nacos-api.md §5): every answer is
 * `{"code":C,"message":M,"data":D}` as application/json, code 0 "success" with the data, or an
 * error code with its text as message and a detail naming the parameter or object as data, under
 * the HTTP status of the cause. Shared by every v2 adapter (naming, config) and by dispatch, which
 * answers its own errors (unknown path, 503 while not UP, auth, injected faults) in this form on v2
 * paths.
 */
#ifndef NACOS_MOCK_V2_ENVELOPE_H
#define NACOS_MOCK_V2_ENVELOPE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "nacos_mock/reply.h"

/* com.alibaba.nacos.api.model.v2.ErrorCode (the naming and common part). */
enum v2_code {
    V2_SUCCESS = 0,
    V2_PARAMETER_MISSING = 10000,
    V2_ACCESS_DENIED = 10001,
    V2_DATA_ACCESS_ERROR = 10002,
    V2_TENANT_PARAM_ERROR = 20001,
    V2_PARAMETER_VALIDATE_ERROR = 20002,
    V2_MEDIA_TYPE_ERROR = 20003,
    V2_RESOURCE_NOT_FOUND = 20004,
    V2_RESOURCE_CONFLICT = 20005,
    V2_SERVICE_NAME_ERROR = 21000,
    V2_WEIGHT_ERROR = 21001,
    V2_INSTANCE_METADATA_ERROR = 21002,
    V2_INSTANCE_NOT_FOUND = 21003,
    V2_INSTANCE_ERROR = 21004,
    V2_SERVICE_METADATA_ERROR = 21005,
    V2_SELECTOR_ERROR = 21006,
    V2_SERVICE_ALREADY_EXIST = 21007,
    V2_SERVICE_NOT_EXIST = 21008,
    V2_SERVICE_DELETE_FAILURE = 21009,
    V2_HEALTHY_PARAM_MISS = 21010,
    V2_HEALTH_CHECK_STILL_RUNNING = 21011,
    V2_ILLEGAL_NAMESPACE = 22000,
    V2_NAMESPACE_NOT_EXIST = 22001,
    V2_NAMESPACE_ALREADY_EXIST = 22002,
    V2_ILLEGAL_STATE = 23000,
    V2_NODE_INFO_ERROR = 23001,
    V2_NODE_DOWN_FAILURE = 23002,
    V2_SERVER_ERROR = 30000,
};

/* The code's text ("success", "parameter missing", ...); "server error" for an unknown code. */
const char *v2_code_text(int code);
/* The code that stands for an HTTP status when nothing more specific is known (dispatch errors,
 * injected faults): 400 → 20002, 401/403 → 10001, 404/405 → 20004, 409 → 20005, else 30000. */
int v2_code_of_status(int status);

/* 200 success with `data` (taken; NULL = null). */
void v2_ok(struct reply *r, cJSON *data);
/* 200 success with a string as data (the usual "ok"). */
void v2_ok_string(struct reply *r, const char *data);
/* 200 success whose data is already printed JSON (len bytes; copied), e.g. a cached instance list. */
void v2_ok_raw(struct reply *r, const char *json, size_t len);
/* An error: `status`, `code`, message = v2_code_text(code), data = the formatted detail. */
void v2_error(struct reply *r, int status, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An error with its own message and null data (Result.failure(message), e.g. readiness). */
void v2_failure(struct reply *r, int status, int code, const char *message);

#endif
