/*
 * naming — Nacos naming rules, pure functions: grouped service names (`group@@service`), namespace
 * and cluster defaults, instance ids, name and IP validation, metadata parsing, client detection by
 * User-Agent. Validators that answer: on a violation they fill `rep` with the Nacos error (400 +
 * `caused: ...;` naming the parameter) and return -1; 0 when valid.
 */
#ifndef NACOS_MOCK_NAMING_H
#define NACOS_MOCK_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "nacos_mock/params.h"
#include "nacos_mock/reply.h"

#define NAME_MAX_BYTES 512
#define GROUPED_MAX (2 * NAME_MAX_BYTES + 3)
#define METADATA_MAX_BYTES (64 * 1024)
#define DEFAULT_GROUP "DEFAULT_GROUP"
#define DEFAULT_CLUSTER "DEFAULT"
#define DEFAULT_NAMESPACE "public"
#define GROUP_SEP "@@"

/* Preserved instance metadata keys (nacos-api.md §3, §2.1). */
#define MD_HB_INTERVAL "preserved.heart.beat.interval"
#define MD_HB_TIMEOUT "preserved.heart.beat.timeout"
#define MD_IP_DELETE_TIMEOUT "preserved.ip.delete.timeout"
#define MD_ID_GENERATOR "preserved.instance.id.generator"

/* What went wrong with a naming request, independent of the transport that carried it: the kind
 * (each adapter maps it to its own code: v2 `code`, gRPC `errorCode`), the status the v1 API answers
 * with, and the message (the text after `caused: ` in v1; the same text everywhere, naming the
 * field or object). */
enum naming_code {
    NAMING_OK = 0,
    NAMING_PARAM_MISSING,        /* a required field is absent or blank */
    NAMING_PARAM_INVALID,        /* a field is malformed or out of range */
    NAMING_WEIGHT,               /* weight outside 0..10000 */
    NAMING_INSTANCE_METADATA,    /* preserved.* timings unusable */
    NAMING_SERVICE_NOT_FOUND,
    NAMING_INSTANCE_NOT_FOUND,
    NAMING_SERVICE_EXISTS,
    NAMING_SERVICE_NOT_EMPTY,
    NAMING_SELECTOR,
    NAMING_STORE,                /* the registry store failed */
    NAMING_CLIENT_NOT_FOUND,     /* no client (ip:port or connection) with that id */
    NAMING_METADATA,             /* a metadata parameter is neither a JSON object nor k1=v1,k2=v2 */
};
struct naming_err {
    enum naming_code code;
    int status;                  /* v1 HTTP status: 400 or 500 */
    char msg[800];
    /* NAMING_PARAM_MISSING from naming_err_missing: the parameter and its Java type ("String",
     * "Integer", ...), for transports that word a missing parameter their own way (the v2 API says
     * "Required parameter 'ip' type String is not present"); "" / NULL otherwise */
    char param[64];
    const char *type;
};
void naming_err_set(struct naming_err *e, enum naming_code code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A required parameter is absent or blank: NAMING_PARAM_MISSING, 400 `Param 'k' is required.`;
 * `type` a string literal. */
void naming_err_missing(struct naming_err *e, const char *param, const char *type);
/* The v1 form of e: `status` + `caused: <msg>;`. */
void naming_err_reply(const struct naming_err *e, struct reply *rep);

/* Checks a service/group/cluster name part: valid UTF-8, no NUL or control characters, no `@@`,
 * at most NAME_MAX_BYTES. `len` is the real byte length (a decoded %00 is caught). 0, or -1 with e. */
int naming_check_name(const char *field, const char *v, size_t len, struct naming_err *e);
/* IPv4/IPv6 literal or host name. */
int naming_check_ip(const char *field, const char *v, struct naming_err *e);
/* The grouped name of `service` in `group` (NULL or blank: DEFAULT_GROUP): `svc` → `group@@svc`; an
 * already grouped `service` is kept (group ignored). Validates both parts. out has GROUPED_MAX. */
int naming_group_service(const char *service, const char *group, char *out, size_t outlen, struct naming_err *e);
/* The same three as validators that answer (v1): on a problem they fill rep and return -1. */
int naming_check_name_or_reply(const char *field, const char *v, size_t len, struct reply *rep);
int naming_check_ip_or_reply(const char *field, const char *v, struct reply *rep);
/* From the parameters serviceName (required) and groupName. */
int naming_grouped_service_or_reply(const struct params *p, struct reply *rep, char *out, size_t outlen);
/* Splits `group@@svc`; group/svc point into `grouped`'s copy in buf. Returns 0, -1 if not grouped. */
int naming_split(const char *grouped, char *buf, size_t buflen, const char **group, const char **svc);
/* Does the grouped name `have` (may be NULL) answer a filter `want`? NULL wants any; a bare `svc`
 * matches it in any group, `G@@svc` only in G (the journal's and the events stream's serviceName). */
bool naming_service_matches(const char *want, const char *have);
/* namespaceId or "public". */
const char *naming_namespace(const struct params *p);

/* "ip#port#cluster#group@@service" in out; returns out. */
char *naming_instance_id(char *out, size_t outlen, const char *ip, int port, const char *cluster,
                         const char *grouped);

/* Parses a metadata parameter: a JSON object (values rendered as strings), else `k1=v1,k2=v2`.
 * Returns a new cJSON object (caller deletes) or NULL with a message in err. */
cJSON *naming_parse_metadata(const char *s, char *err, size_t errlen);
/* The same as a validator: *out (caller deletes) or NAMING_METADATA (400) with the message. */
int naming_metadata_param(const char *s, cJSON **out, struct naming_err *e);
/* A `selector` parameter: a JSON object with type "none" or "label". *out gets its normalised
 * text (caller frees with cJSON_free), or NAMING_SELECTOR (400) naming the parameter. */
int naming_parse_selector(const char *s, char **out, struct naming_err *e);
/* Normalises a cJSON object into an object of string values (numbers/bools rendered), caller
 * deletes. NULL with err if obj is not an object. */
cJSON *naming_metadata_from_json(const cJSON *obj, char *err, size_t errlen);

/* User-Agent classes (see nacos-api.md §1). */
bool naming_ua_push_capable(const char *ua);
bool naming_ua_java_ge_1(const char *ua);

#endif
