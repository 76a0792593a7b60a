/*
 * naming.c — Nacos naming rules as pure functions (see naming.h).
 */
#include "nacos_mock/naming.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

void naming_err_set(struct naming_err *e, enum naming_code code, int status, const char *fmt, ...)
{
    e->code = code;
    e->status = status;
    e->param[0] = '\0';
    e->type = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void naming_err_missing(struct naming_err *e, const char *param, const char *type)
{
    naming_err_set(e, NAMING_PARAM_MISSING, 400, "Param '%s' is required.", param);
    snprintf(e->param, sizeof e->param, "%s", param);
    e->type = type;
}

void naming_err_reply(const struct naming_err *e, struct reply *rep)
{
    reply_caused(rep, e->status, "%s", e->msg);
}

int naming_check_name(const char *field, const char *v, size_t len, struct naming_err *e)
{
    if (len > NAME_MAX_BYTES) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' is too long: %zu bytes, at most %d", field, len,
                       NAME_MAX_BYTES);
        return -1;
    }
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x20 || s[i] == 0x7F) {
            naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' contains a control character (byte 0x%02x at %zu)",
                           field, s[i], i);
            return -1;
        }
        size_t k = util_utf8_seq(s + i, len - i);
        if (!k) {
            naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' is not valid UTF-8 (byte %zu)", field, i);
            return -1;
        }
        i += k;
    }
    if (len >= 2 && memmem(v, len, GROUP_SEP, 2)) {   /* bounded: v need not be NUL-terminated at len */
        naming_err_set(e, NAMING_PARAM_INVALID, 400,
                       "Param '%s' is illegal: '@@' may only separate group and service, got \"%.*s\"", field, (int)len,
                       v);
        return -1;
    }
    return 0;
}

int naming_check_name_or_reply(const char *field, const char *v, size_t len, struct reply *rep)
{
    struct naming_err e;
    if (naming_check_name(field, v, len, &e) == 0) return 0;
    naming_err_reply(&e, rep);
    return -1;
}

static bool valid_hostname(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    char prev = '.';
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            if (label == 0 && c == '-') return false;
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = c;
    }
    return prev != '-' && prev != '.';
}

int naming_check_ip(const char *field, const char *v, struct naming_err *e)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (strchr(v, ':')) {
        if (inet_pton(AF_INET6, v, buf) == 1) return 0;
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' is not a valid IPv6 address: \"%.300s\"", field, v);
        return -1;
    }
    bool dotted = *v != '\0';
    for (const char *c = v; *c; c++)
        if (!isdigit((unsigned char)*c) && *c != '.') dotted = false;
    if (dotted) {
        if (inet_pton(AF_INET, v, buf) == 1) return 0;
        naming_err_set(e, NAMING_PARAM_INVALID, 400,
                       "instance format invalid: Your IP address is spelled incorrectly (param '%s': \"%.300s\")",
                       field, v);
        return -1;
    }
    if (valid_hostname(v)) return 0;
    naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' is neither an IP address nor a host name: \"%.300s\"",
                   field, v);
    return -1;
}

int naming_check_ip_or_reply(const char *field, const char *v, struct reply *rep)
{
    struct naming_err e;
    if (naming_check_ip(field, v, &e) == 0) return 0;
    naming_err_reply(&e, rep);
    return -1;
}

const char *naming_namespace(const struct params *p)
{
    const char *ns = params_get(p, "namespaceId");
    return ns ? ns : DEFAULT_NAMESPACE;
}

int naming_split(const char *grouped, char *buf, size_t buflen, const char **group, const char **svc)
{
    const char *sep = strstr(grouped, GROUP_SEP);
    size_t n = strlen(grouped);
    if (!sep || n + 1 > buflen) return -1;
    memcpy(buf, grouped, n + 1);
    buf[sep - grouped] = '\0';
    *group = buf;
    *svc = buf + (sep - grouped) + 2;
    return 0;
}

int naming_group_service(const char *svc, const char *group, char *out, size_t outlen, struct naming_err *e)
{
    if (!svc || !*svc) {
        naming_err_missing(e, "serviceName", "String");
        return -1;
    }
    const char *sep = strstr(svc, GROUP_SEP);
    if (sep) {
        size_t glen = (size_t)(sep - svc);
        const char *name = sep + 2;
        if (glen == 0 || !*name) {
            naming_err_set(e, NAMING_PARAM_INVALID, 400,
                           "Param 'serviceName' is illegal: group and service around '@@' must not be empty, got "
                           "\"%.600s\"", svc);
            return -1;
        }
        char g[NAME_MAX_BYTES + 1];
        if (glen > NAME_MAX_BYTES) {
            naming_err_set(e, NAMING_PARAM_INVALID, 400,
                           "Param 'serviceName' is too long: group part of %zu bytes, at most %d", glen, NAME_MAX_BYTES);
            return -1;
        }
        memcpy(g, svc, glen);
        g[glen] = '\0';
        if (naming_check_name("groupName", g, glen, e) || naming_check_name("serviceName", name, strlen(name), e))
            return -1;
        snprintf(out, outlen, "%s", svc);
        return 0;
    }
    if (!group || !*group) group = DEFAULT_GROUP;
    if (naming_check_name("serviceName", svc, strlen(svc), e) || naming_check_name("groupName", group, strlen(group), e))
        return -1;
    snprintf(out, outlen, "%s" GROUP_SEP "%s", group, svc);
    return 0;
}

int naming_grouped_service_or_reply(const struct params *p, struct reply *rep, char *out, size_t outlen)
{
    struct naming_err e;
    if (naming_group_service(params_get(p, "serviceName"), params_get(p, "groupName"), out, outlen, &e) == 0)
        return 0;
    naming_err_reply(&e, rep);
    return -1;
}

char *naming_instance_id(char *out, size_t outlen, const char *ip, int port, const char *cluster, const char *grouped)
{
    snprintf(out, outlen, "%s#%d#%s#%s", ip, port, cluster, grouped);
    return out;
}

cJSON *naming_metadata_from_json(const cJSON *obj, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "metadata must be a JSON object");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    for (const cJSON *it = obj->child; it && out; it = it->next) {
        if (!it->string) continue;
        /* a key given twice: the last one wins, as in Nacos's Map (and the k=v form below) */
        cJSON_DeleteItemFromObjectCaseSensitive(out, it->string);
        if (cJSON_IsString(it)) {
            cJSON_AddStringToObject(out, it->string, it->valuestring);
        } else if (cJSON_IsNull(it)) {
            continue;
        } else if (cJSON_IsBool(it)) {
            cJSON_AddStringToObject(out, it->string, cJSON_IsTrue(it) ? "true" : "false");
        } else {
            char *s = cJSON_PrintUnformatted(it);   /* numbers, nested values: their JSON text */
            if (s) cJSON_AddStringToObject(out, it->string, s);
            cJSON_free(s);
        }
    }
    return out;
}

cJSON *naming_parse_metadata(const char *s, char *err, size_t errlen)
{
    if (!s || !*s) return cJSON_CreateObject();
    if (strlen(s) > METADATA_MAX_BYTES) {
        snprintf(err, errlen, "Param 'metadata' is too large: %zu bytes, at most %d", strlen(s), METADATA_MAX_BYTES);
        return NULL;
    }
    cJSON *j = cJSON_Parse(s);
    if (j && cJSON_IsObject(j)) {
        cJSON *out = naming_metadata_from_json(j, err, errlen);
        cJSON_Delete(j);
        return out;
    }
    cJSON_Delete(j);
    /* Nacos falls back to k1=v1,k2=v2 */
    cJSON *out = cJSON_CreateObject();
    char *copy = strdup(s);
    if (!copy || !out) { free(copy); cJSON_Delete(out); snprintf(err, errlen, "out of memory"); return NULL; }
    for (char *e = copy; e;) {
        char *comma = strchr(e, ',');
        if (comma) *comma = '\0';
        char *eq = strchr(e, '=');
        if (!eq || eq == e || !eq[1] || strchr(eq + 1, '=')) {
            snprintf(err, errlen, "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"%.200s\"",
                     s);
            free(copy);
            cJSON_Delete(out);
            return NULL;
        }
        *eq = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(out, e);
        cJSON_AddStringToObject(out, e, eq + 1);
        e = comma ? comma + 1 : NULL;
    }
    free(copy);
    return out;
}

int naming_metadata_param(const char *s, cJSON **out, struct naming_err *e)
{
    char err[256];
    if ((*out = naming_parse_metadata(s, err, sizeof err))) return 0;
    naming_err_set(e, NAMING_METADATA, 400, "%s", err);
    return -1;
}

int naming_parse_selector(const char *s, char **out, struct naming_err *e)
{
    cJSON *j = cJSON_Parse(s);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    *out = NULL;
    if (cJSON_IsObject(j) && cJSON_IsString(type) && (!strcmp(type->valuestring, "none") || !strcmp(type->valuestring, "label")))
        *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (*out) return 0;
    naming_err_set(e, NAMING_SELECTOR, 400,
                   "Param 'selector' must be a JSON object with type \"none\" or \"label\", got \"%.100s\"", s);
    return -1;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

bool naming_ua_push_capable(const char *ua)
{
    return ua && (starts(ua, "Nacos-Java-Client") || starts(ua, "Nacos-Go-Client") || starts(ua, "Nacos-C-Client") ||
                  starts(ua, "Nacos-DNS") || starts(ua, "Nacos-CSharp-Client"));
}

bool naming_ua_java_ge_1(const char *ua)
{
    if (!ua || !starts(ua, "Nacos-Java-Client")) return false;
    const char *v = strstr(ua, ":v");
    if (!v) return false;
    long major = strtol(v + 2, NULL, 10);
    return major >= 1;
}

bool naming_service_matches(const char *want, const char *have)
{
    if (!want) return true;
    if (!have) return false;
    if (!strcmp(want, have)) return true;
    const char *sep = strstr(have, GROUP_SEP);
    return sep && !strstr(want, GROUP_SEP) && !strcmp(sep + 2, want);
}
