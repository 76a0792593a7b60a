/*
 * grpc_body.c — writes one framed gRPC message (5-byte prefix + Payload {metadata.type, body JSON})
 * to a file: the request body for `h2load -d FILE`, or the fixed answer of nm_bench_grpc_reference.
 *
 *   nm_bench_grpc_body FILE TYPE JSON
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: nm_bench_grpc_body FILE TYPE JSON\n");
        return 2;
    }
    size_t plen = 0, flen = 0;
    uint8_t *pl = grpc_payload_encode(argv[2], argv[3], strlen(argv[3]), &plen);
    uint8_t *framed = pl ? grpc_frame_encode(pl, plen, &flen) : NULL;
    FILE *f = framed ? fopen(argv[1], "wb") : NULL;
    int ok = f && fwrite(framed, 1, flen, f) == flen;
    if (f && fclose(f)) ok = 0;
    free(pl);
    free(framed);
    if (!ok) {
        fprintf(stderr, "nm_bench_grpc_body: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
