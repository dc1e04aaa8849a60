/* rpc_bench_nng.h — the plain-nng reference cases of rpc_bench (see rpc_bench_nng.c). */
#ifndef RPC_BENCH_NNG_H
#define RPC_BENCH_NNG_H

#include <stddef.h>
#include <stdint.h>

typedef void (*nngref_record_fn)(void *arg, uint64_t latency_ns);

/* Starts the echo server (64 rep0 contexts echoing from their callbacks); returns its port or -1.
 */
int nngref_server_start(void);
void nngref_server_stop(void);
/* One round of `seconds`; returns requests per second. `record` gets every latency. */
double nngref_sync_round(int port, const uint8_t *payload, size_t n, double seconds,
                         nngref_record_fn record, void *rarg, uint64_t *errors);
double nngref_async_round(int port, const uint8_t *payload, size_t n, double seconds,
                          nngref_record_fn record, void *rarg, uint64_t *errors);

#endif
