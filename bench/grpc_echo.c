/*
 * grpc_echo.c — the gRPC transport (server/grpc_server.c) alone, for bench/grpc.sh: every unary call
 * is answered with a copy of its request message (an echo handler; the lead's Nacos handlers will
 * be measured through the daemon itself). Same loop, same limits as in nacos-mock.
 *
 *   nm_bench_grpc_echo [--port N]
 * Listens on 127.0.0.1; --port 0 (the default) picks a free port, printed on stdout as
 * `grpc echo listening on 127.0.0.1:PORT`. SIGINT/SIGTERM stop it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nacos_mock/grpc_server.h"

static void on_unary(void *ctx, struct grpc_call *call, struct grpc_answer *out)
{
    (void)ctx;
    out->msg = malloc(call->len ? call->len : 1);
    if (!out->msg) {
        out->v = GRPC_STATUS;
        out->status = GRPC_RESOURCE_EXHAUSTED;
        return;
    }
    memcpy(out->msg, call->msg, call->len);
    out->len = call->len;
}

int main(int argc, char **argv)
{
    long port = 0;
    if (argc == 3 && !strcmp(argv[1], "--port")) {
        char *end = NULL;
        port = strtol(argv[2], &end, 10);
        if (*end || port < 0 || port > 65535) port = -1;
    } else if (argc != 1) {
        port = -1;
    }
    if (port < 0) {
        fprintf(stderr, "usage: nm_bench_grpc_echo [--port N]\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* the loop thread inherits the mask */
    struct grpc_handlers h = {.on_unary = on_unary};
    char err[256];
    struct grpc_server *s = grpc_server_start("127.0.0.1", (int)port, &h, err, sizeof err);
    if (!s) {
        fprintf(stderr, "nm_bench_grpc_echo: %s\n", err);
        return 1;
    }
    printf("grpc echo listening on 127.0.0.1:%d\n", grpc_server_port(s));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    grpc_server_stop(s);
    return 0;
}
