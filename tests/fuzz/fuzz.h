/*
 * fuzz.h — what every harness under tests/fuzz shares: the libFuzzer entry point's prototype (the
 * normal build compiles the harnesses with -Wmissing-prototypes) and FUZZ_CHECK, which reports a
 * broken invariant and aborts so that libFuzzer saves the input and replay.c fails the ctest;
 * fuzz_cstr and fuzz_dump_without_now, which several harnesses need.
 *
 * A harness is built twice: with -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt, clang) and with
 * replay.c as its main() (tests/fuzz/replay.cmake, the normal build). It must not keep state
 * between inputs that changes what a later input does, so every crash reproduces from one file.
 */
#ifndef NACOS_MOCK_FUZZ_H
#define NACOS_MOCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a NUL-terminated string (it may hold NULs of its own). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The registry dump as a client sees it (numbers are raw items until printed), without nowMs and the
 * configs' lastModifiedMs (a load publishes them now). Caller deletes. */
static inline cJSON *fuzz_dump_without_now(struct app *app)
{
    cJSON *raw = registry_dump(app);
    FUZZ_CHECK(raw, "registry_dump failed");
    char *text = cJSON_PrintUnformatted(raw);
    cJSON *d = text ? cJSON_Parse(text) : NULL;
    FUZZ_CHECK(d, "registry_dump printed invalid JSON: %s", text ? text : "(null)");
    cJSON_free(text);
    cJSON_Delete(raw);
    cJSON_DeleteItemFromObjectCaseSensitive(d, "nowMs");
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "configs")) cJSON_DeleteItemFromObjectCaseSensitive(c, "lastModifiedMs");
    return d;
}

#endif
