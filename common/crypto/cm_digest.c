/* cm_digest.c — see cm_digest.h. OpenSSL's EVP one-shot digests. */
#include "cm_digest.h"

#include <openssl/evp.h>

static const EVP_MD *md_of(cm_digest_alg alg)
{
    switch (alg) {
    case CM_DIGEST_MD5:
        return EVP_md5();
    case CM_DIGEST_SHA1:
        return EVP_sha1();
    case CM_DIGEST_SHA224:
        return EVP_sha224();
    case CM_DIGEST_SHA256:
        return EVP_sha256();
    case CM_DIGEST_SHA384:
        return EVP_sha384();
    case CM_DIGEST_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

size_t cm_digest(cm_digest_alg alg, const void *p, size_t n, unsigned char *out)
{
    const EVP_MD *md = md_of(alg);
    unsigned int len = 0;
    if (md == NULL || EVP_Digest(n ? p : "", n, out, &len, md, NULL) != 1) {
        return 0;
    }
    return len;
}

size_t cm_digest_hex(cm_digest_alg alg, const void *p, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char h[CM_DIGEST_MAX];
    size_t len = cm_digest(alg, p, n, h);
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[2 * len] = '\0';
    return 2 * len;
}
