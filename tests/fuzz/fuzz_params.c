/*
 * fuzz_params.c — params_parse_form, params_add_encoded and params_get on arbitrary bytes.
 *
 * The input is parsed twice: whole, as a form body / query string, and as one raw pair (the first
 * byte picks where the key ends). Both results are checked against a small reference model written
 * here from params.h's rules (split on '&', first '=' splits key and value, `+` is a space, `%XX`
 * decodes, a stray `%` stays, key and value trimmed, blank keys dropped, first value of a key wins,
 * at most PARAMS_MAX keys). Invariants:
 *   - params_url_decode agrees with the reference decoder byte for byte;
 *   - nul_key is set iff a decoded key or value held a NUL byte;
 *   - without a NUL, the stored pairs are exactly the model's: keys non-empty and unique, keys and
 *     values trimmed, in order, overflow iff more than PARAMS_MAX distinct keys;
 *   - params_get / params_get_raw answer every stored key with its value (blank → NULL / "").
 */
#include "fuzz.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "nacos_mock/params.h"

static int ref_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The reference decoder: dst has room for len bytes. Returns the decoded length. */
static size_t ref_decode(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '+') {
            dst[o++] = ' ';
        } else if (src[i] == '%' && len - i >= 3 && ref_hex(src[i + 1]) >= 0 && ref_hex(src[i + 2]) >= 0) {
            dst[o++] = (unsigned char)(ref_hex(src[i + 1]) << 4 | ref_hex(src[i + 2]));
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    return o;
}

static bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Trims in place (start offset and length). */
static void ref_trim(const unsigned char *s, size_t *off, size_t *len)
{
    size_t b = 0, n = *len;
    while (b < n && is_space(s[b])) b++;
    while (n > b && is_space(s[n - 1])) n--;
    *off = b;
    *len = n - b;
}

struct ref_pair { unsigned char *k, *v; size_t kl, vl; };
struct ref {
    struct ref_pair *v;
    size_t n, cap;
    bool saw_nul, overflow;
};

static void ref_free(struct ref *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].k);
        free(r->v[i].v);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* One raw pair through the model. */
static void ref_add(struct ref *r, const unsigned char *key, size_t klen, const unsigned char *val, size_t vlen)
{
    unsigned char *k = malloc(klen + 1), *v = malloc(vlen + 1);
    FUZZ_CHECK(k && v, "out of memory");
    size_t kl = ref_decode(k, key, klen), vl = ref_decode(v, val, vlen), ko, vo;
    if (memchr(k, 0, kl) || memchr(v, 0, vl)) r->saw_nul = true;
    ref_trim(k, &ko, &kl);
    ref_trim(v, &vo, &vl);
    bool keep = kl > 0;
    for (size_t i = 0; keep && i < r->n; i++)
        if (r->v[i].kl == kl && memcmp(r->v[i].k, k + ko, kl) == 0) keep = false;
    if (keep && r->n >= PARAMS_MAX) {
        r->overflow = true;
        keep = false;
    }
    if (keep) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->v = realloc(r->v, r->cap * sizeof *r->v);
            FUZZ_CHECK(r->v, "out of memory");
        }
        memmove(k, k + ko, kl);
        memmove(v, v + vo, vl);
        r->v[r->n++] = (struct ref_pair){k, v, kl, vl};
    } else {
        free(k);
        free(v);
    }
}

static void ref_parse_form(struct ref *r, const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&') j++;
        if (j > i) {
            const unsigned char *eq = memchr(s + i, '=', j - i);
            if (eq)
                ref_add(r, s + i, (size_t)(eq - (s + i)), eq + 1, (size_t)(s + j - (eq + 1)));
            else
                ref_add(r, s + i, j - i, (const unsigned char *)"", 0);
        }
        i = j + 1;
    }
}

static void check_against(const struct params *p, const struct ref *r)
{
    FUZZ_CHECK(p->n <= PARAMS_MAX, "%zu pairs stored", p->n);
    FUZZ_CHECK((p->nul_key != NULL) == r->saw_nul, "nul_key %s but the model %s a decoded NUL",
               p->nul_key ? "set" : "unset", r->saw_nul ? "saw" : "did not see");
    if (r->saw_nul) return;   /* the request is refused; C strings cannot show the rest */
    FUZZ_CHECK(p->overflow == r->overflow, "overflow %d, model %d", p->overflow, r->overflow);
    FUZZ_CHECK(p->n == r->n, "%zu pairs stored, model has %zu", p->n, r->n);
    for (size_t i = 0; i < p->n; i++) {
        const char *k = p->v[i].key, *v = p->v[i].val;
        size_t kl = strlen(k), vl = strlen(v);
        FUZZ_CHECK(kl > 0, "empty key stored at %zu", i);
        FUZZ_CHECK(!is_space((unsigned char)k[0]) && !is_space((unsigned char)k[kl - 1]), "key '%s' not trimmed", k);
        FUZZ_CHECK(vl == 0 || (!is_space((unsigned char)v[0]) && !is_space((unsigned char)v[vl - 1])),
                   "value of '%s' not trimmed: '%s'", k, v);
        FUZZ_CHECK(kl == r->v[i].kl && memcmp(k, r->v[i].k, kl) == 0, "key %zu is '%s', model differs", i, k);
        FUZZ_CHECK(vl == r->v[i].vl && memcmp(v, r->v[i].v, vl) == 0, "value of '%s' is '%s', model differs", k, v);
        const char *raw = params_get_raw(p, k), *got = params_get(p, k);
        FUZZ_CHECK(raw == v, "params_get_raw('%s') is not the stored value", k);
        FUZZ_CHECK(vl ? got == v : got == NULL, "params_get('%s') wrong", k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the decoder alone */
    char *dec = malloc(size + 1);
    unsigned char *ref = malloc(size + 1);
    FUZZ_CHECK(dec && ref, "out of memory");
    size_t dl = params_url_decode(dec, (const char *)data, size);
    size_t rl = ref_decode(ref, data, size);
    FUZZ_CHECK(dl == rl && memcmp(dec, ref, rl) == 0 && dec[dl] == '\0', "params_url_decode disagrees");
    free(dec);
    free(ref);

    /* the whole input as a form body / query string */
    struct params p;
    struct ref r = {0};
    params_init(&p);
    params_parse_form(&p, (const char *)data, size);
    ref_parse_form(&r, data, size);
    check_against(&p, &r);
    params_get(&p, "serviceName");
    params_get(&p, "");
    params_free(&p);
    ref_free(&r);

    /* one raw pair: byte 0 picks the split, key and value may hold '&' and '=' */
    if (size > 0) {
        const uint8_t *body = data + 1;
        size_t blen = size - 1, split = data[0] % (blen + 1);
        params_init(&p);
        int rc = params_add_encoded(&p, (const char *)body, split, (const char *)body + split, blen - split);
        FUZZ_CHECK(rc == 0, "params_add_encoded failed on one pair");
        ref_add(&r, body, split, body + split, blen - split);
        check_against(&p, &r);
        params_free(&p);
        ref_free(&r);
    }
    return 0;
}
