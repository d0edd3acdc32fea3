/* sha256 through nettle: of a buffer, of a file read in blocks, and as
 * lower-case hex. */
#include "egressd.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <unistd.h>

void sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, buf);
	sha256_digest(&ctx, SHA256_LEN, out);
}

int sha256_file(const char *path, uint8_t out[SHA256_LEN])
{
	struct sha256_ctx ctx;
	uint8_t block[65536];
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	sha256_init(&ctx);
	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		sha256_update(&ctx, n, block);
	}
	close(fd);
	sha256_digest(&ctx, SHA256_LEN, out);
	return 0;
}

const char *sha256_hex(const uint8_t d[SHA256_LEN], char hex[SHA256_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < SHA256_LEN; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
	return hex;
}
