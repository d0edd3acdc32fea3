/* sha256 through nettle, for the policy hash and the install manifest. */
#ifndef EGRESSD_HASH_H
#define EGRESSD_HASH_H

#include "egressd.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 65

void sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_LEN]);
/* -1 with errno when the file cannot be read. */
int sha256_file(const char *path, uint8_t out[SHA256_LEN]);
const char *sha256_hex(const uint8_t d[SHA256_LEN], char hex[SHA256_HEX_LEN]);

#endif
