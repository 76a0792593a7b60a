/*
 * fuzz.h — what every harness under tests/fuzz shares: the libFuzzer entry point's prototype (the
 * normal build compiles the harnesses with -Wmissing-prototypes) and FUZZ_CHECK, which reports a
 * broken invariant and aborts so that libFuzzer saves the input and replay.c fails the ctest.
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

#endif
