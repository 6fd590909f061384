/* The kernel command line as key=value pairs, read once. Double quotes are
 * dropped the way the kernel and kestrel's parseCmdline drop them. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fail.h"
#include "shim.h"

#define MAX_ARGS 128

static char line[4096];
static char *args[MAX_ARGS];
static int nargs;

void boot_args_load(void) {
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) fail(PROG, "cannot read /proc/cmdline", errno);
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n < 0) fail(PROG, "cannot read /proc/cmdline", errno);
	line[n] = '\0';
	boot_args_parse(line);
}

void boot_args_parse(char *text) {
	nargs = 0;
	char *w = text;
	for (char *r = text; *r && nargs < MAX_ARGS;) {
		while (*r == ' ' || *r == '\t' || *r == '\n') r++;
		if (!*r) break;
		args[nargs++] = w;
		int quoted = 0;
		for (; *r && (quoted || (*r != ' ' && *r != '\t' && *r != '\n')); r++) {
			if (*r == '"') quoted = !quoted;
			else *w++ = *r;
		}
		/* w may have caught up with r: look at the separator before overwriting it. */
		char sep = *r;
		*w++ = '\0';
		if (sep) r++;
	}
}

const char *boot_arg(const char *key) {
	size_t len = strlen(key);
	const char *found = NULL;
	for (int i = 0; i < nargs; i++) {
		if (strncmp(args[i], key, len) == 0 && args[i][len] == '=') found = args[i] + len + 1;
	}
	return found;
}
