/*
 * test_naming.c — unit tests of server/naming.c and server/validate.c: grouped service names,
 * name checks (UTF-8, control characters, `@@`, length), IP/host checks, instance ids, metadata
 * parsing, User-Agent classes and the validators that answer (port, numbers, required params).
 * Every rejection is checked for its status and its exact `caused: ...;` text, which names the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/naming.h"
#include "nacos_mock/params.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/validate.h"

/* ------------------------------------------------------------------ helpers */

/* Builds params from a (still encoded) form string. */
static void form(struct params *p, const char *s)
{
    params_init(p);
    params_parse_form(p, s, strlen(s));
}

/* The grouped name for form `s`; returns the rc and leaves the reply in rep (caller frees). */
static int grouped(const char *s, char *out, size_t outlen, struct reply *rep)
{
    struct params p;
    form(&p, s);
    reply_init(rep);
    out[0] = '\0';
    int rc = naming_grouped_service_or_reply(&p, rep, out, outlen);
    params_free(&p);
    return rc;
}

static void assert_grouped(const char *s, const char *want)
{
    char out[GROUPED_MAX];
    struct reply rep;
    if (grouped(s, out, sizeof out, &rep) != 0) fail_msg("\"%s\" rejected: %s", s, rep.body ? rep.body : "");
    assert_string_equal(out, want);
    assert_null(rep.body);
    reply_free(&rep);
}

static void assert_reply(const struct reply *rep, int status, const char *body)
{
    assert_int_equal(rep->status, status);
    assert_non_null(rep->body);
    assert_string_equal(rep->body, body);
    assert_int_equal(rep->len, strlen(body));
    assert_string_equal(rep->content_type, CT_TEXT);
}

static void assert_grouped_rejected(const char *s, const char *body)
{
    char out[GROUPED_MAX];
    struct reply rep;
    assert_int_equal(grouped(s, out, sizeof out, &rep), -1);
    assert_reply(&rep, 400, body);
    reply_free(&rep);
}

/* naming_check_name_or_reply on `len` bytes of v: 0 or the reply body. */
static int check_name(const char *field, const char *v, size_t len, struct reply *rep)
{
    reply_init(rep);
    return naming_check_name_or_reply(field, v, len, rep);
}

static void assert_name_ok(const char *v)
{
    struct reply rep;
    if (check_name("serviceName", v, strlen(v), &rep)) fail_msg("\"%s\" rejected: %s", v, rep.body);
    reply_free(&rep);
}

static void assert_name_rejected(const char *field, const char *v, size_t len, const char *body)
{
    struct reply rep;
    assert_int_equal(check_name(field, v, len, &rep), -1);
    assert_reply(&rep, 400, body);
    reply_free(&rep);
}

static void assert_ip_ok(const char *ip)
{
    struct reply rep;
    reply_init(&rep);
    if (naming_check_ip_or_reply("ip", ip, &rep)) fail_msg("ip \"%s\" rejected: %s", ip, rep.body);
    reply_free(&rep);
}

static void assert_ip_rejected(const char *ip, const char *body)
{
    struct reply rep;
    reply_init(&rep);
    assert_int_equal(naming_check_ip_or_reply("ip", ip, &rep), -1);
    assert_reply(&rep, 400, body);
    reply_free(&rep);
}

/* ------------------------------------------------------------------ grouping */

static void test_grouping_default_group(void **state)
{
    (void)state;
    assert_grouped("serviceName=svc", "DEFAULT_GROUP@@svc");
    assert_grouped("serviceName=svc&groupName=", "DEFAULT_GROUP@@svc");      /* blank = absent */
    assert_grouped("serviceName=svc&groupName=+", "DEFAULT_GROUP@@svc");
    assert_grouped("serviceName=svc&groupName=orders", "orders@@svc");
    assert_grouped("serviceName=+svc+&groupName=+g+", "g@@svc");             /* trimmed */
    assert_grouped("serviceName=my+svc", "DEFAULT_GROUP@@my svc");
}

static void test_grouping_already_grouped_kept(void **state)
{
    (void)state;
    assert_grouped("serviceName=g1@@svc", "g1@@svc");
    assert_grouped("serviceName=g1@@svc&groupName=g2", "g1@@svc");          /* groupName ignored */
    assert_grouped("serviceName=DEFAULT_GROUP%40%40svc", "DEFAULT_GROUP@@svc");
    /* a groupName that would be illegal is ignored too, since it is not used */
    assert_grouped("serviceName=g1@@svc&groupName=a%01b", "g1@@svc");
}

static void test_grouping_empty_parts_rejected(void **state)
{
    (void)state;
    assert_grouped_rejected("serviceName=@@svc",
                            "caused: Param 'serviceName' is illegal: group and service around '@@' must not be "
                            "empty, got \"@@svc\";");
    assert_grouped_rejected("serviceName=g@@",
                            "caused: Param 'serviceName' is illegal: group and service around '@@' must not be "
                            "empty, got \"g@@\";");
    assert_grouped_rejected("serviceName=@@",
                            "caused: Param 'serviceName' is illegal: group and service around '@@' must not be "
                            "empty, got \"@@\";");
}

static void test_grouping_required(void **state)
{
    (void)state;
    assert_grouped_rejected("ip=1.2.3.4", "caused: Param 'serviceName' is required.;");
    assert_grouped_rejected("serviceName=", "caused: Param 'serviceName' is required.;");
    assert_grouped_rejected("serviceName=%20%20", "caused: Param 'serviceName' is required.;");
}

static void test_grouping_bad_parts_name_the_field(void **state)
{
    (void)state;
    assert_grouped_rejected("serviceName=a@@b@@c",
                            "caused: Param 'serviceName' is illegal: '@@' may only separate group and service, got "
                            "\"b@@c\";");
    assert_grouped_rejected("serviceName=svc&groupName=a@@b",
                            "caused: Param 'groupName' is illegal: '@@' may only separate group and service, got "
                            "\"a@@b\";");
    assert_grouped_rejected("serviceName=a%01b",
                            "caused: Param 'serviceName' contains a control character (byte 0x01 at 1);");
    assert_grouped_rejected("serviceName=svc&groupName=g%7F",
                            "caused: Param 'groupName' contains a control character (byte 0x7f at 1);");
    assert_grouped_rejected("serviceName=g%0A@@svc",
                            "caused: Param 'groupName' contains a control character (byte 0x0a at 1);");
    assert_grouped_rejected("serviceName=g@@s%09x",
                            "caused: Param 'serviceName' contains a control character (byte 0x09 at 1);");
    assert_grouped("serviceName=g@@s%09", "g@@s");   /* a trailing tab is trimmed away, not refused */
}

static void test_grouping_utf8(void **state)
{
    (void)state;
    /* "订单服务" in the group "中文组" */
    assert_grouped("serviceName=%E8%AE%A2%E5%8D%95%E6%9C%8D%E5%8A%A1&groupName=%E4%B8%AD%E6%96%87%E7%BB%84",
                   "\xE4\xB8\xAD\xE6\x96\x87\xE7\xBB\x84@@\xE8\xAE\xA2\xE5\x8D\x95\xE6\x9C\x8D\xE5\x8A\xA1");
    assert_grouped_rejected("serviceName=ab%FF", "caused: Param 'serviceName' is not valid UTF-8 (byte 2);");
    assert_grouped_rejected("serviceName=g%C3@@svc", "caused: Param 'groupName' is not valid UTF-8 (byte 1);");
}

static void test_grouping_length(void **state)
{
    (void)state;
    char *q = malloc(2 * NAME_MAX_BYTES + 64), *want = malloc(2 * NAME_MAX_BYTES + 64);
    assert_non_null(q);
    assert_non_null(want);
    char name[NAME_MAX_BYTES + 2], group[NAME_MAX_BYTES + 1];
    memset(name, 's', NAME_MAX_BYTES);
    name[NAME_MAX_BYTES] = '\0';
    memset(group, 'g', NAME_MAX_BYTES);
    group[NAME_MAX_BYTES] = '\0';
    /* 512 + 512 bytes: the longest grouped name fits GROUPED_MAX */
    snprintf(q, 2 * NAME_MAX_BYTES + 64, "serviceName=%s&groupName=%s", name, group);
    snprintf(want, 2 * NAME_MAX_BYTES + 64, "%s@@%s", group, name);
    assert_grouped(q, want);
    snprintf(q, 2 * NAME_MAX_BYTES + 64, "serviceName=%s@@%s", group, name);
    assert_grouped(q, want);

    name[NAME_MAX_BYTES] = 's';
    name[NAME_MAX_BYTES + 1] = '\0';   /* 513 bytes */
    snprintf(q, 2 * NAME_MAX_BYTES + 64, "serviceName=%s", name);
    assert_grouped_rejected(q, "caused: Param 'serviceName' is too long: 513 bytes, at most 512;");
    snprintf(q, 2 * NAME_MAX_BYTES + 64, "serviceName=x&groupName=%s", name);
    assert_grouped_rejected(q, "caused: Param 'groupName' is too long: 513 bytes, at most 512;");
    snprintf(q, 2 * NAME_MAX_BYTES + 64, "serviceName=%s@@x", name);
    assert_grouped_rejected(q, "caused: Param 'serviceName' is too long: group part of 513 bytes, at most 512;");
    free(q);
    free(want);
}

/* ------------------------------------------------------------------ names */

static void test_name_checks(void **state)
{
    (void)state;
    assert_name_ok("demo");
    assert_name_ok("with space and-dash.dot:colon/slash");
    assert_name_ok("\xE8\xAE\xA2\xE5\x8D\x95");              /* 订单 */
    assert_name_ok("\xF0\x9F\x98\x80");                      /* 4-byte emoji */
    assert_name_ok("single@at");
    assert_name_ok("");

    assert_name_rejected("clusterName", "a\0b", 3,
                         "caused: Param 'clusterName' contains a control character (byte 0x00 at 1);");
    assert_name_rejected("clusterName", "\tx", 2,
                         "caused: Param 'clusterName' contains a control character (byte 0x09 at 0);");
    assert_name_rejected("namespaceId", "ns\x7f", 3,
                         "caused: Param 'namespaceId' contains a control character (byte 0x7f at 2);");
    assert_name_rejected("serviceName", "\xC0\xAF", 2, "caused: Param 'serviceName' is not valid UTF-8 (byte 0);");
    assert_name_rejected("serviceName", "a\xED\xA0\x80", 4,              /* a surrogate */
                         "caused: Param 'serviceName' is not valid UTF-8 (byte 1);");
    assert_name_rejected("serviceName", "ab\xE4\xB8", 4,                 /* truncated */
                         "caused: Param 'serviceName' is not valid UTF-8 (byte 2);");
    assert_name_rejected("serviceName", "\xF4\x90\x80\x80", 4,           /* > U+10FFFF */
                         "caused: Param 'serviceName' is not valid UTF-8 (byte 0);");
    assert_name_rejected("serviceName", "\x80", 1, "caused: Param 'serviceName' is not valid UTF-8 (byte 0);");
    assert_name_rejected("groupName", "a@@b", 4,
                         "caused: Param 'groupName' is illegal: '@@' may only separate group and service, got "
                         "\"a@@b\";");

    char big[NAME_MAX_BYTES + 1];
    memset(big, 'x', sizeof big);
    struct reply rep;
    assert_int_equal(check_name("serviceName", big, NAME_MAX_BYTES, &rep), 0);
    reply_free(&rep);
    assert_name_rejected("serviceName", big, NAME_MAX_BYTES + 1,
                         "caused: Param 'serviceName' is too long: 513 bytes, at most 512;");
    /* 512 bytes of 3-byte characters plus one more byte would cut a character: length wins */
    char cjk[NAME_MAX_BYTES + 3];
    for (size_t i = 0; i + 3 <= sizeof cjk; i += 3) memcpy(cjk + i, "\xE4\xB8\xAD", 3);
    assert_int_equal(check_name("serviceName", cjk, 510, &rep), 0);
    reply_free(&rep);
    assert_name_rejected("serviceName", cjk, 513, "caused: Param 'serviceName' is too long: 513 bytes, at most 512;");
}

/* ------------------------------------------------------------------ ip */

static void test_ip_checks(void **state)
{
    (void)state;
    assert_ip_ok("10.0.0.5");
    assert_ip_ok("0.0.0.0");
    assert_ip_ok("255.255.255.255");
    assert_ip_ok("::1");
    assert_ip_ok("fe80::1");
    assert_ip_ok("2001:db8::5");
    assert_ip_ok("::ffff:10.0.0.1");
    assert_ip_ok("localhost");
    assert_ip_ok("my-host.example.com");
    assert_ip_ok("svc_1.internal");
    assert_ip_ok("a");

    assert_ip_rejected("999.1.1.1",
                       "caused: instance format invalid: Your IP address is spelled incorrectly (param 'ip': "
                       "\"999.1.1.1\");");
    assert_ip_rejected("1.2.3", "caused: instance format invalid: Your IP address is spelled incorrectly (param 'ip': "
                                "\"1.2.3\");");
    assert_ip_rejected("1.2.3.4.5", "caused: instance format invalid: Your IP address is spelled incorrectly (param "
                                    "'ip': \"1.2.3.4.5\");");
    assert_ip_rejected("256.0.0.1", "caused: instance format invalid: Your IP address is spelled incorrectly (param "
                                    "'ip': \"256.0.0.1\");");
    assert_ip_rejected("1::2::3", "caused: Param 'ip' is not a valid IPv6 address: \"1::2::3\";");
    assert_ip_rejected("[::1]", "caused: Param 'ip' is not a valid IPv6 address: \"[::1]\";");
    assert_ip_rejected("10.0.0.1:8080", "caused: Param 'ip' is not a valid IPv6 address: \"10.0.0.1:8080\";");
    assert_ip_rejected("", "caused: Param 'ip' is neither an IP address nor a host name: \"\";");
    assert_ip_rejected("-bad", "caused: Param 'ip' is neither an IP address nor a host name: \"-bad\";");
    assert_ip_rejected("bad-", "caused: Param 'ip' is neither an IP address nor a host name: \"bad-\";");
    assert_ip_rejected("a..b", "caused: Param 'ip' is neither an IP address nor a host name: \"a..b\";");
    assert_ip_rejected("a b", "caused: Param 'ip' is neither an IP address nor a host name: \"a b\";");
    assert_ip_rejected("host/x", "caused: Param 'ip' is neither an IP address nor a host name: \"host/x\";");
    assert_ip_rejected("bad-.x", "caused: Param 'ip' is neither an IP address nor a host name: \"bad-.x\";");

    char label[80];
    memset(label, 'a', 63);
    label[63] = '\0';
    assert_ip_ok(label);
    label[63] = 'a';
    label[64] = '\0';
    char want[200];
    snprintf(want, sizeof want, "caused: Param 'ip' is neither an IP address nor a host name: \"%s\";", label);
    assert_ip_rejected(label, want);
}

/* ------------------------------------------------------------------ ids, split, namespace */

static void test_instance_id_format(void **state)
{
    (void)state;
    char out[256];
    assert_ptr_equal(naming_instance_id(out, sizeof out, "10.0.0.5", 8080, "DEFAULT", "DEFAULT_GROUP@@demo"), out);
    assert_string_equal(out, "10.0.0.5#8080#DEFAULT#DEFAULT_GROUP@@demo");
    naming_instance_id(out, sizeof out, "::1", 1, "c-1", "g@@s");
    assert_string_equal(out, "::1#1#c-1#g@@s");
    char small[10];
    naming_instance_id(small, sizeof small, "10.0.0.5", 8080, "DEFAULT", "DEFAULT_GROUP@@demo");
    assert_string_equal(small, "10.0.0.5#");   /* bounded */
}

static void test_split_and_namespace(void **state)
{
    (void)state;
    char buf[64];
    const char *g = NULL, *s = NULL;
    assert_int_equal(naming_split("grp@@svc", buf, sizeof buf, &g, &s), 0);
    assert_string_equal(g, "grp");
    assert_string_equal(s, "svc");
    assert_int_equal(naming_split("plain", buf, sizeof buf, &g, &s), -1);
    assert_int_equal(naming_split("grp@@svc", buf, 5, &g, &s), -1);   /* does not fit */

    struct params p;
    form(&p, "x=1");
    assert_string_equal(naming_namespace(&p), "public");
    params_free(&p);
    form(&p, "namespaceId=");
    assert_string_equal(naming_namespace(&p), "public");
    params_free(&p);
    form(&p, "namespaceId=+dev+");
    assert_string_equal(naming_namespace(&p), "dev");
    params_free(&p);
    form(&p, "namespaceId=default");   /* the Node client's literal namespace is its own */
    assert_string_equal(naming_namespace(&p), "default");
    params_free(&p);
}

/* ------------------------------------------------------------------ metadata */

static char *md_text(const char *s, char *err, size_t errlen)
{
    err[0] = '\0';
    cJSON *m = naming_parse_metadata(s, err, errlen);
    if (!m) return NULL;
    char *t = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return t;
}

static void assert_md(const char *s, const char *want)
{
    char err[256];
    char *t = md_text(s, err, sizeof err);
    if (!t) {
        fail_msg("metadata \"%s\" rejected: %s", s ? s : "(null)", err);
        return;   /* not reached; tells an optimising compiler t is not NULL below */
    }
    assert_string_equal(t, want);
    cJSON_free(t);
}

static void assert_md_rejected(const char *s, const char *want_err)
{
    char err[256];
    char *t = md_text(s, err, sizeof err);
    if (t) fail_msg("metadata \"%s\" accepted as %s", s, t);
    assert_string_equal(err, want_err);
}

static void test_metadata_json(void **state)
{
    (void)state;
    assert_md(NULL, "{}");
    assert_md("", "{}");
    assert_md("{}", "{}");
    assert_md("{\"k\":\"v\"}", "{\"k\":\"v\"}");
    assert_md("{\"n\":1,\"f\":1.5,\"b\":true,\"z\":false,\"s\":\"x\"}",
              "{\"n\":\"1\",\"f\":\"1.5\",\"b\":\"true\",\"z\":\"false\",\"s\":\"x\"}");
    assert_md("{\"gone\":null,\"k\":\"v\"}", "{\"k\":\"v\"}");
    assert_md("{\"o\":{\"a\":1},\"a\":[1,\"x\"]}", "{\"o\":\"{\\\"a\\\":1}\",\"a\":\"[1,\\\"x\\\"]\"}");
    assert_md("{\"preserved.heart.beat.interval\":\"3000\"}", "{\"preserved.heart.beat.interval\":\"3000\"}");
    assert_md("{\"k\":\"\xE4\xB8\xAD\"}", "{\"k\":\"\xE4\xB8\xAD\"}");
    assert_md("{\"a\":\"1\",\"a\":\"2\",\"b\":true,\"b\":3}", "{\"a\":\"2\",\"b\":\"3\"}");   /* last wins */
}

static void test_metadata_kv_fallback(void **state)
{
    (void)state;
    assert_md("k=v", "{\"k\":\"v\"}");
    assert_md("k=v,k2=v2", "{\"k\":\"v\",\"k2\":\"v2\"}");
    assert_md("a=1,a=2", "{\"a\":\"2\"}");   /* HashMap.put: the last one wins */
    assert_md("version=1.0,zone=cn-hz", "{\"version\":\"1.0\",\"zone\":\"cn-hz\"}");
}

static void test_metadata_malformed(void **state)
{
    (void)state;
    assert_md_rejected("k", "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"k\"");
    assert_md_rejected("k=", "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"k=\"");
    assert_md_rejected("=v", "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"=v\"");
    assert_md_rejected("k=v=w",
                       "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"k=v=w\"");
    assert_md_rejected("a=1,,b=2",
                       "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"a=1,,b=2\"");
    assert_md_rejected("{\"k\":\"v\"",
                       "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"{\"k\":\"v\"\"");
    assert_md_rejected("[1,2]", "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"[1,2]\"");
    assert_md_rejected("\"str\"",
                       "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"\"str\"\"");

    char err[256];
    cJSON *arr = cJSON_CreateArray();
    assert_null(naming_metadata_from_json(arr, err, sizeof err));
    assert_string_equal(err, "metadata must be a JSON object");
    cJSON_Delete(arr);
}

static void test_metadata_size_limit(void **state)
{
    (void)state;
    size_t n = METADATA_MAX_BYTES;
    char *s = malloc(n + 2);
    assert_non_null(s);
    /* exactly 64 KiB of valid JSON: accepted */
    memcpy(s, "{\"k\":\"", 6);
    memset(s + 6, 'x', n - 8);
    memcpy(s + n - 2, "\"}", 3);
    assert_int_equal(strlen(s), n);
    char err[256];
    cJSON *m = naming_parse_metadata(s, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(strlen(cJSON_GetObjectItem(m, "k")->valuestring), n - 8);
    cJSON_Delete(m);
    /* one byte more: refused, naming the parameter */
    memcpy(s, "{\"k\":\"x", 7);
    memset(s + 7, 'x', n - 8);
    memcpy(s + n - 1, "\"}", 3);
    assert_int_equal(strlen(s), n + 1);
    assert_null(naming_parse_metadata(s, err, sizeof err));
    assert_string_equal(err, "Param 'metadata' is too large: 65537 bytes, at most 65536");
    free(s);
}

/* ------------------------------------------------------------------ user agents */

static void test_user_agent_classes(void **state)
{
    (void)state;
    const char *push[] = {"Nacos-Java-Client:v1.4.8", "Nacos-Java-Client:v1.0.0", "Nacos-Go-Client:v1.1.6",
                          "Nacos-C-Client", "Nacos-DNS", "Nacos-CSharp-Client:v1.3.0"};
    const char *no_push[] = {"Nacos-Python-Client:v2.0.11", "curl/8.0", "", "nacos-java-client:v1.4.8",
                             "Mozilla/5.0 Nacos-Java-Client:v1.4.8"};
    for (size_t i = 0; i < sizeof push / sizeof push[0]; i++)
        if (!naming_ua_push_capable(push[i])) fail_msg("\"%s\" should be push capable", push[i]);
    for (size_t i = 0; i < sizeof no_push / sizeof no_push[0]; i++)
        if (naming_ua_push_capable(no_push[i])) fail_msg("\"%s\" should not be push capable", no_push[i]);
    assert_false(naming_ua_push_capable(NULL));

    const char *java1[] = {"Nacos-Java-Client:v1.4.8", "Nacos-Java-Client:v1.0.0", "Nacos-Java-Client:v2.1.0",
                           "Nacos-Java-Client:v10.0"};
    const char *not_java1[] = {"Nacos-Java-Client:v0.9.0", "Nacos-Java-Client:v0.6.2", "Nacos-Java-Client",
                               "Nacos-Java-Client:1.4.8", "Nacos-Go-Client:v1.1.6", "Nacos-Python-Client:v2.0.11",
                               "", "Nacos-Java-Client:vx"};
    for (size_t i = 0; i < sizeof java1 / sizeof java1[0]; i++)
        if (!naming_ua_java_ge_1(java1[i])) fail_msg("\"%s\" should be Java >= 1.0.0", java1[i]);
    for (size_t i = 0; i < sizeof not_java1 / sizeof not_java1[0]; i++)
        if (naming_ua_java_ge_1(not_java1[i])) fail_msg("\"%s\" should not be Java >= 1.0.0", not_java1[i]);
    assert_false(naming_ua_java_ge_1(NULL));
}

/* ------------------------------------------------------------------ validate.c */

static void assert_port(const char *v, int want)
{
    struct reply rep;
    reply_init(&rep);
    int port = -7;
    if (value_port_or_reply("port", v, &rep, &port)) fail_msg("port \"%s\" rejected: %s", v, rep.body);
    assert_int_equal(port, want);
    reply_free(&rep);
}

static void assert_port_rejected(const char *v, const char *body)
{
    struct reply rep;
    reply_init(&rep);
    int port = -7;
    assert_int_equal(value_port_or_reply("port", v, &rep, &port), -1);
    assert_int_equal(port, -7);
    assert_reply(&rep, 400, body);
    reply_free(&rep);
}

static void test_port_validation(void **state)
{
    (void)state;
    assert_port("1", 1);
    assert_port("8080", 8080);
    assert_port("65535", 65535);
    assert_port_rejected("0", "caused: Param 'port' must be a port from 1 to 65535, got 0;");
    assert_port_rejected("65536", "caused: Param 'port' must be a port from 1 to 65535, got 65536;");
    assert_port_rejected("-1", "caused: Param 'port' must be a port from 1 to 65535, got -1;");
    assert_port_rejected("8080abc", "caused: Param 'port' is not a number: For input string: \"8080abc\";");
    assert_port_rejected("abc", "caused: Param 'port' is not a number: For input string: \"abc\";");
    assert_port_rejected("80.0", "caused: Param 'port' is not a number: For input string: \"80.0\";");
    assert_port_rejected("99999999999999999999",
                         "caused: Param 'port' is not a number: For input string: \"99999999999999999999\";");

    struct params p;
    struct reply rep;
    int port = 0;
    form(&p, "ip=1.2.3.4");
    reply_init(&rep);
    assert_int_equal(param_port_or_reply(&p, &rep, "port", &port), -1);
    assert_reply(&rep, 400, "caused: Param 'port' is required.;");
    reply_free(&rep);
    params_free(&p);

    form(&p, "port=+8848+");
    reply_init(&rep);
    assert_int_equal(param_port_or_reply(&p, &rep, "port", &port), 0);
    assert_int_equal(port, 8848);
    reply_free(&rep);
    params_free(&p);

    form(&p, "udpPort=70000");
    reply_init(&rep);
    assert_int_equal(param_port_or_reply(&p, &rep, "udpPort", &port), -1);
    assert_reply(&rep, 400, "caused: Param 'udpPort' must be a port from 1 to 65535, got 70000;");
    reply_free(&rep);
    params_free(&p);
}

static void test_other_validators(void **state)
{
    (void)state;
    struct params p;
    struct reply rep;
    long long n = 0;
    double d = 0;
    const char *v = NULL;

    form(&p, "a=5&b=x&c=100&w=2.5&bad=NaN&blank=&t=True&f=off");
    reply_init(&rep);
    assert_int_equal(param_int_or_reply(&p, &rep, "a", 0, 0, 10, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(param_int_or_reply(&p, &rep, "missing", 7, 0, 10, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(param_int_or_reply(&p, &rep, "blank", 9, 0, 10, &n), 0);
    assert_int_equal(n, 9);
    assert_null(rep.body);
    assert_int_equal(param_int_or_reply(&p, &rep, "b", 0, 0, 10, &n), -1);
    assert_reply(&rep, 400, "caused: Param 'b' is not a number: For input string: \"x\";");
    assert_int_equal(param_int_or_reply(&p, &rep, "c", 0, 0, 10, &n), -1);
    assert_reply(&rep, 400, "caused: Param 'c' must be from 0 to 10, got 100;");

    assert_int_equal(param_double_or_reply(&p, &rep, "w", 1.0, &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(param_double_or_reply(&p, &rep, "missing", 1.0, &d), 0);
    assert_true(d == 1.0);
    assert_int_equal(param_double_or_reply(&p, &rep, "bad", 1.0, &d), -1);
    assert_reply(&rep, 400, "caused: Param 'bad' is not a number: For input string: \"NaN\";");

    assert_int_equal(param_required_or_reply(&p, &rep, "a", &v), 0);
    assert_string_equal(v, "5");
    assert_int_equal(param_required_or_reply(&p, &rep, "blank", &v), -1);
    assert_reply(&rep, 400, "caused: Param 'blank' is required.;");

    assert_true(param_bool(&p, "t", false));
    assert_false(param_bool(&p, "f", true));
    assert_true(param_bool(&p, "missing", true));
    assert_false(param_bool(&p, "missing", false));
    assert_true(param_bool(&p, "blank", true));    /* blank = absent: the default */
    assert_false(param_bool(&p, "b", true));       /* "x" is not truthy */
    reply_free(&rep);
    params_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_default_group),
        cmocka_unit_test(test_grouping_already_grouped_kept),
        cmocka_unit_test(test_grouping_empty_parts_rejected),
        cmocka_unit_test(test_grouping_required),
        cmocka_unit_test(test_grouping_bad_parts_name_the_field),
        cmocka_unit_test(test_grouping_utf8),
        cmocka_unit_test(test_grouping_length),
        cmocka_unit_test(test_name_checks),
        cmocka_unit_test(test_ip_checks),
        cmocka_unit_test(test_instance_id_format),
        cmocka_unit_test(test_split_and_namespace),
        cmocka_unit_test(test_metadata_json),
        cmocka_unit_test(test_metadata_kv_fallback),
        cmocka_unit_test(test_metadata_malformed),
        cmocka_unit_test(test_metadata_size_limit),
        cmocka_unit_test(test_user_agent_classes),
        cmocka_unit_test(test_port_validation),
        cmocka_unit_test(test_other_validators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
