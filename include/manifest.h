/* The provenance manifest that make install ships: one "sha256:HEX  PATH"
 * line per installed file, read strictly so that a damaged manifest is
 * never taken for a clean one. */
#ifndef EGRESSD_MANIFEST_H
#define EGRESSD_MANIFEST_H

#include "egressd.h"
#include "hash.h"

/* Longest manifest line accepted: the digest, two spaces and a path. */
#define MANIFEST_LINE_MAX 4200

struct manifest_entry {
	char *path;			/* absolute, as installed */
	uint8_t sha256[SHA256_LEN];
	size_t line;			/* where it stands in the manifest */
};

struct manifest {
	struct manifest_entry *v;
	size_t n, cap;
};

/* Reads the manifest at path into m.  Returns false with a one-line reason
 * in err, naming the line when a line is malformed; m is then empty. */
bool manifest_load(const char *path, struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *m);

#endif
