/*
 * grpc_api — the Nacos side of the gRPC transport (grpc-api.md): turns a Payload into a request
 * (metadata.type + JSON body), checks what every call needs once (server status, fault rules, a set
 * up connection), calls the naming core (naming_core.h) and renders the response type the clients
 * expect; records each call in the journal, the log and the metrics. It also owns the connection
 * life seen from Nacos: a connection becomes a client (clients.h) when it opens, is set up by its
 * ConnectionSetupRequest, and when it ends — however it ends, the bi-stream included — its instances
 * go and its subscribers are told (nc_client_closed).
 *
 * Server-initiated messages go out on the connection's bi-stream: NotifySubscriberRequest pushes
 * (for the push thread, through app->transport.push_conns) and ConnectResetRequest (control plane).
 *
 * Threading: the handlers run on the gRPC loop thread and take app->mu around registry work; the
 * transport ops (grpc_api_transport) may be called from any thread.
 */
#ifndef NACOS_MOCK_GRPC_API_H
#define NACOS_MOCK_GRPC_API_H

#include <stdint.h>

struct app;
struct app_transport;
struct grpc_api;
struct grpc_handlers;
struct grpc_server;

/* NULL when out of memory. `node` is the node (listener) the connections come in on. */
struct grpc_api *grpc_api_create(struct app *app, int node);
void grpc_api_free(struct grpc_api *g);
/* The handlers to start the transport with (grpc_server_start). */
void grpc_api_handlers(struct grpc_api *g, struct grpc_handlers *h);
/* Tells the adapter which server carries its connections (after grpc_server_start; NULL before
 * grpc_server_stop). */
void grpc_api_attach(struct grpc_api *g, struct grpc_server *srv);
/* Fills the transport ops the layers below use to reach gRPC connections (app.h). */
void grpc_api_transport(struct grpc_api *g, struct app_transport *t);
/* The config center's push hook (cs_listen_set_push_hook, ctx = the adapter): a
 * ConfigChangeNotifyRequest to connection `conn`, which listened to the key with this tenant
 * spelling; `config.push` fault rules drop or delay it. Any thread. */
void grpc_api_config_push(void *ctx, uint64_t conn, const char *data_id, const char *group, const char *tenant);

#endif
