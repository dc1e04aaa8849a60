/*
 * cm_arena.h — a per-request bump allocator. Everything allocated for one request (one RPC, one
 * SQL statement) comes from one arena and is freed at once by cm_arena_reset or cm_arena_fini.
 */
#ifndef CM_ARENA_H
#define CM_ARENA_H

#include <stddef.h>

typedef struct cm_arena_chunk cm_arena_chunk;

typedef struct cm_arena {
    cm_arena_chunk *head; /* owned chunk list, newest first */
    size_t chunk_bytes;   /* size of a regular chunk */
    size_t bytes_total;   /* allocated from the system, for accounting */
} cm_arena;

/* chunk_bytes 0 picks CM_ARENA_CHUNK_BYTES_DEFAULT from cm_limits.h. */
void cm_arena_init(cm_arena *a, size_t chunk_bytes);
/* Frees every chunk. */
void cm_arena_fini(cm_arena *a);
/* Frees everything but the first regular chunk, which is kept for reuse. */
void cm_arena_reset(cm_arena *a);
/* 16-byte aligned memory valid until reset/fini; NULL on out-of-memory. */
void *cm_arena_alloc(cm_arena *a, size_t n);
void *cm_arena_memdup(cm_arena *a, const void *p, size_t n);
char *cm_arena_strndup(cm_arena *a, const char *s, size_t n);

#endif
