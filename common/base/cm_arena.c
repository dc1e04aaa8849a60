/* cm_arena.c — see cm_arena.h. */
#include "cm_arena.h"
#include "cm_limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cm_arena_chunk {
    cm_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void cm_arena_init(cm_arena *a, size_t chunk_bytes)
{
    a->head = NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : CM_ARENA_CHUNK_BYTES_DEFAULT;
    a->bytes_total = 0;
}

void cm_arena_fini(cm_arena *a)
{
    cm_arena_chunk *c = a->head;
    while (c != NULL) {
        cm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes_total = 0;
}

void cm_arena_reset(cm_arena *a)
{
    cm_arena_chunk *keep = NULL;
    cm_arena_chunk *c = a->head;
    a->bytes_total = 0;
    while (c != NULL) {
        cm_arena_chunk *next = c->next;
        if (keep == NULL && c->size == a->chunk_bytes) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
        a->bytes_total = sizeof(*keep) + keep->size;
    }
    a->head = keep;
}

void *cm_arena_alloc(cm_arena *a, size_t n)
{
    if (n > SIZE_MAX - 32) {
        return NULL;
    }
    n = (n + 15) & ~(size_t)15;
    cm_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > a->chunk_bytes ? n : a->chunk_bytes;
        cm_arena_chunk *fresh = malloc(sizeof(*fresh) + size);
        if (fresh == NULL) {
            return NULL;
        }
        fresh->size = size;
        fresh->used = 0;
        a->bytes_total += sizeof(*fresh) + size;
        if (size > a->chunk_bytes && c != NULL) {
            /* An oversized block goes behind the current chunk so its free room stays usable. */
            fresh->next = c->next;
            c->next = fresh;
            fresh->used = n;
            return fresh->data;
        }
        fresh->next = c;
        a->head = fresh;
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *cm_arena_memdup(cm_arena *a, const void *p, size_t n)
{
    void *q = cm_arena_alloc(a, n ? n : 1);
    if (q != NULL && n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

char *cm_arena_strndup(cm_arena *a, const char *s, size_t n)
{
    char *q = cm_arena_alloc(a, n + 1);
    if (q != NULL) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}
