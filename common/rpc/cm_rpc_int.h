/*
 * cm_rpc_int.h — private to common/rpc: what the server, client and protobuf files share.
 * Only common/rpc's .c files include this (and nng's headers).
 */
#ifndef CM_RPC_INT_H
#define CM_RPC_INT_H

#include "cm_err.h"
#include "cm_limits.h"

#include <nng/nng.h>
#include <stddef.h>

/* Longest "tcp://host:port" URL built from an address. */
#define CM_RPC_URL_MAX (CM_ADDR_MAX + 16)

/* Worker threads one server may run: beyond this, threads only add switching on our machines. */
#define CM_RPC_WORKERS_MAX 64

/* A server waits this long for a slow peer to take a reply before giving the context back: a
 * peer that stops reading must not hold a context forever. */
#define CM_RPC_SERVER_SEND_TIMEOUT_MS 10000

/* Checks addr ("host:port") and writes "tcp://addr" into url (CM_RPC_URL_MAX bytes). */
int cm_rpc_url_from_addr(const char *addr, char *url, size_t url_size, cm_err *err);

/* nng counts its own SP header (the request id, 4 bytes per hop, at most 8 hops) against
 * NNG_OPT_RECVMAXSZ; our frames are checked against CM_RPC_MSG_BYTES_MAX exactly by the codec. */
#define CM_RPC_NNG_RECV_MAX_BYTES ((size_t)CM_RPC_MSG_BYTES_MAX + 64)

/* Maps an nng error to a CM_E_* code. */
int cm_rpc_nng_code(int nng_rv);

#endif
