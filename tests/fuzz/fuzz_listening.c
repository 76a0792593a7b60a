/*
 * fuzz_listening.c — cs_listening_parse (the v1 listener's `Listening-Configs`, URL-decoded once more
 * as Nacos does) and cs_listening_encode (its answer) on arbitrary bytes.
 *
 * Invariants: -1 comes with a message; a parse gives at most CS_LISTEN_MAX_KEYS keys, each with a
 * dataId, a group and an md5 and no separator (U+0001, U+0002) or NUL inside; written back in the
 * canonical form (dataId␂group␂md5[␂tenant]␁, percent-encoded) it parses to the same keys; the answer
 * for every key holds only URLEncoder's characters, ends in "\n" (or is empty when nothing changed),
 * and decodes to exactly dataId␂group[␂tenant]␁ per key, the tenant only when it is not blank.
 */
#include "fuzz.h"

#include <string.h>

#include "nacos_mock/cs_http.h"
#include "nacos_mock/params.h"

static bool has_sep(const char *s) { return strchr(s, '\x01') || strchr(s, '\x02'); }

static bool blank(const char *s) { return !s || strspn(s, " \t\r\n") == strlen(s); }

/* Appends s percent-encoded (every byte but [A-Za-z0-9]) at *o. */
static void put_enc(char *buf, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
            buf[(*o)++] = (char)*p;
        } else {
            buf[(*o)++] = '%';
            buf[(*o)++] = hex[*p >> 4];
            buf[(*o)++] = hex[*p & 15];
        }
    }
}

static void put_raw(char *buf, size_t *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + *o, s, n);
    *o += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_listening l;
    char err[256] = "";
    if (cs_listening_parse((const char *)data, size, &l, err, sizeof err)) {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
        return 0;
    }
    FUZZ_CHECK(l.n <= CS_LISTEN_MAX_KEYS, "%zu keys", l.n);
    size_t need = 16;
    for (size_t i = 0; i < l.n; i++) {
        const struct cs_listen_key *k = &l.keys[i];
        FUZZ_CHECK(k->data_id && k->group && k->md5, "key %zu lacks a part", i);
        FUZZ_CHECK(!has_sep(k->data_id) && !has_sep(k->group) && !has_sep(k->md5) && (!k->tenant || !has_sep(k->tenant)),
                   "key %zu holds a separator", i);
        need += 3 * (strlen(k->data_id) + strlen(k->group) + strlen(k->md5) + (k->tenant ? strlen(k->tenant) : 0)) + 16;
    }

    /* the canonical form parses back to the same keys */
    char *canon = malloc(need), *plain = malloc(need);
    FUZZ_CHECK(canon && plain, "out of memory");
    size_t o = 0, p = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct cs_listen_key *k = &l.keys[i];
        const char *parts[] = {k->data_id, "\x02", k->group, "\x02", k->md5};
        for (int j = 0; j < 5; j++) put_enc(canon, &o, parts[j]);
        if (k->tenant) {
            put_enc(canon, &o, "\x02");
            put_enc(canon, &o, k->tenant);
        }
        put_enc(canon, &o, "\x01");
        /* and what the answer must decode to */
        put_raw(plain, &p, k->data_id);
        put_raw(plain, &p, "\x02");
        put_raw(plain, &p, k->group);
        if (!blank(k->tenant)) {
            put_raw(plain, &p, "\x02");
            put_raw(plain, &p, k->tenant);
        }
        put_raw(plain, &p, "\x01");
    }
    canon[o] = plain[p] = '\0';
    struct cs_listening again;
    FUZZ_CHECK(cs_listening_parse(canon, o, &again, err, sizeof err) == 0, "canonical form refused: %s", err);
    FUZZ_CHECK(again.n == l.n, "%zu keys, then %zu", l.n, again.n);
    for (size_t i = 0; i < l.n; i++) {
        const struct cs_listen_key *a = &l.keys[i], *b = &again.keys[i];
        FUZZ_CHECK(!strcmp(a->data_id, b->data_id) && !strcmp(a->group, b->group) && !strcmp(a->md5, b->md5) &&
                       (a->tenant ? b->tenant && !strcmp(a->tenant, b->tenant) : !b->tenant),
                   "key %zu changed in the round trip", i);
    }
    cs_listening_free(&again);

    /* the answer listing every key */
    bool *all = malloc(l.n ? l.n : 1);
    FUZZ_CHECK(all, "out of memory");
    memset(all, 1, l.n ? l.n : 1);
    size_t len = 0;
    char *ans = cs_listening_encode(l.keys, all, l.n, &len);
    FUZZ_CHECK(ans && strlen(ans) == len, "encode failed");
    if (!l.n) {
        FUZZ_CHECK(len == 0, "an answer for no key: %s", ans);
    } else {
        FUZZ_CHECK(len && ans[len - 1] == '\n', "no final newline");
        for (size_t i = 0; i + 1 < len; i++)
            FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_%+", ans[i]),
                       "byte 0x%02x at %zu is not URLEncoder's", (unsigned char)ans[i], i);
        char *dec = malloc(len);
        size_t n = params_url_decode(dec, ans, len - 1);   /* URLDecoder: + is a space, %XX a byte */
        FUZZ_CHECK(n == p && !memcmp(dec, plain, p), "the answer decodes to something else");
        free(dec);
    }
    free(ans);
    free(all);
    free(canon);
    free(plain);
    cs_listening_free(&l);
    return 0;
}
