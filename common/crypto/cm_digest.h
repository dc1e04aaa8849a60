/*
 * cm_digest.h — message digests (MD5, SHA-1, SHA-2) for the SQL functions that return them.
 *
 * common/'s crypto helpers are, with the sqlnode's protocol module, the only code that includes
 * OpenSSL's headers (DESIGN.md §2): callers see plain bytes, never OpenSSL types.
 */
#ifndef CM_DIGEST_H
#define CM_DIGEST_H

#include <stddef.h>

typedef enum cm_digest_alg {
    CM_DIGEST_MD5,
    CM_DIGEST_SHA1,
    CM_DIGEST_SHA224,
    CM_DIGEST_SHA256,
    CM_DIGEST_SHA384,
    CM_DIGEST_SHA512,
} cm_digest_alg;

/* Longest digest, in bytes (SHA-512). */
#define CM_DIGEST_MAX 64

/* Writes the digest of p[0, n) to out (CM_DIGEST_MAX bytes of room); returns its length in
 * bytes, or 0 when the digest could not be computed (out of memory). */
size_t cm_digest(cm_digest_alg alg, const void *p, size_t n, unsigned char *out);

/* Writes the digest as lowercase hex digits and a NUL to hex (2 * CM_DIGEST_MAX + 1 bytes of
 * room); returns the number of digits, 0 on failure. */
size_t cm_digest_hex(cm_digest_alg alg, const void *p, size_t n, char *hex);

#endif
