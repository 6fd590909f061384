/* Decodes `volant.run`: base64url (no padding) of NUL-separated records, each
 * a one-letter tag and its value, written by volantd from the manifest
 * (src/manifest/run_spec.ts): 'a' entrypoint element (in order), 'e' KEY=VALUE
 * from workload.env, 'w' workdir, 'u' user[:group], 'R' (no value) the
 * workload lives on the rootfs (switch root first). The first record is the
 * version, "v1". Anything else is refused: the shim then leaves the workload
 * to kestrel. */
#include <stdio.h>
#include <string.h>

#include "shim.h"

static char buf[4096];

static int b64(char c) {
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '-') return 62;
	if (c == '_') return 63;
	return -1;
}

int run_spec_decode(const char *text, struct run_spec *out, char *why, size_t why_size) {
	memset(out, 0, sizeof *out);
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (const char *p = text; *p; p++) {
		int v = b64(*p);
		if (v < 0 || n >= sizeof buf - 1) {
			snprintf(why, why_size, "volant.run is not base64url or too long");
			return -1;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[n] = '\0';
	if (n < 3 || strcmp(buf, "v1") != 0) {
		snprintf(why, why_size, "volant.run: unknown version");
		return -1;
	}
	for (size_t i = 3; i < n;) {
		char *rec = buf + i;
		size_t len = strlen(rec);
		i += len + 1;
		char *val = rec + 1;
		switch (rec[0]) {
		case 'a':
			if (out->argc >= RUN_MAX_ARGS) goto too_many;
			out->argv[out->argc++] = val;
			break;
		case 'e':
			if (out->envc >= RUN_MAX_ENV) goto too_many;
			if (!strchr(val, '=')) goto bad;
			out->env[out->envc++] = val;
			break;
		case 'w':
			out->workdir = val;
			break;
		case 'u':
			out->user = val;
			break;
		case 'R':
			out->switch_root = 1;
			break;
		default:
			goto bad;
		}
	}
	if (out->argc == 0) goto bad;
	return 0;
too_many:
	snprintf(why, why_size, "volant.run: more than %d arguments or %d variables", RUN_MAX_ARGS,
	         RUN_MAX_ENV);
	return -1;
bad:
	snprintf(why, why_size, "volant.run: malformed record");
	return -1;
}
