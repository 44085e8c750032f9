/* SHA-256 digests and Ed25519 signature checks of model files (libsodium). */
#include <sodium.h>
#include <stdio.h>

#include "serve/repository.h"

void eml__sha256_hex(const void *data, size_t n_bytes, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, n_bytes);
    sodium_bin2hex(hex, 65, digest, sizeof(digest));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int eml__hex_decode(const char *hex, uint8_t *out, size_t n_bytes)
{
    if (!hex || strlen(hex) != 2 * n_bytes)
        return 0;
    for (size_t i = 0; i < n_bytes; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

int eml__sha256_hex_normalize(const char *in, char out[65])
{
    uint8_t bytes[32];
    if (!eml__hex_decode(in, bytes, sizeof(bytes)))
        return 0;
    sodium_bin2hex(out, 65, bytes, sizeof(bytes));
    return 1;
}

eml_status eml__ed25519_verify(const uint8_t key[32], const uint8_t sig[64], const void *data,
                               size_t n_bytes, eml_diag *diag)
{
    /* sodium_init is idempotent and thread-safe; needed once before the verify functions */
    if (sodium_init() < 0)
        return eml__diag(diag, EML_EINTERNAL, "libsodium could not be initialized");
    if (crypto_sign_verify_detached(sig, data, n_bytes, key) != 0)
        return eml__diag(diag, EML_ECORRUPT,
                         "the Ed25519 signature does not match the model bytes and the trusted "
                         "key");
    return EML_OK;
}
