/* /kestrel on the agent image: starts kestrel as `deno run` of the bundle with
 * the image's own dynamic loader and libraries, so the guest needs no shell,
 * no libc and no /lib of its own. Paths are taken relative to this file's
 * location (normally /volant/agent). Extra arguments go to kestrel.
 *
 * A `deno compile`d kestrel (bin/kestrel) cannot go through an explicit loader
 * call (it reads its payload from /proc/self/exe), so it is exec'd directly
 * after linking /lib64/ld-linux-x86-64.so.2 to the image's loader if missing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fail.h"

#define PROG "volant-kestrel"
#define DEFAULT_BASE "/volant/agent"
#define FIXED_ARGS 11
/* V8 for a small, mostly idle agent: a 1 MiB young generation instead of up to
 * 16 MiB (measured -3 to -5 MiB resident at ready), and no JIT: under TCG every
 * piece of generated code is translated again by QEMU (kestrel healthy 4-5 s ->
 * 3 s, exec and cp faster, docs/kestrel.md). The build's warm-up runs
 * deno with the same flags (scripts/agent_image.ts KESTREL_V8_FLAGS), or V8
 * would refuse the code cache it made. */
#define V8_FLAGS "--v8-flags=--max-semi-space-size=1,--jitless"

/* Copies the build-time deno caches (V8 code cache, module analysis) from the
 * read-only image into the writable DENO_DIR. Only a speed-up: any failure
 * leaves deno to start cold, so errors are not fatal. */
static void seed_deno_dir(const char *from, const char *to) {
	DIR *d = opendir(from);
	if (!d) return;
	mkdir(to, 0700);
	static char src[PATH_MAX], dst[PATH_MAX], buf[65536];
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.') continue;
		if (snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= (int)sizeof src) continue;
		if (snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= (int)sizeof dst) continue;
		int in = open(src, O_RDONLY | O_CLOEXEC);
		if (in < 0) continue;
		int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		for (ssize_t n; out >= 0 && (n = read(in, buf, sizeof buf)) > 0;) {
			if (write(out, buf, (size_t)n) != n) {
				unlink(dst);
				break;
			}
		}
		if (out >= 0) close(out);
		close(in);
	}
	closedir(d);
}

int main(int argc, char **argv) {
	/* base is capped well below the other buffers so no path can truncate. */
	static char base[1024], loader[PATH_MAX], libs[PATH_MAX], deno[PATH_MAX], bundle[PATH_MAX],
	    compiled[PATH_MAX];
	static char msg[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", base, sizeof base - 1);
	if (n > 0) {
		base[n] = '\0';
		char *slash = strrchr(base, '/');
		if (slash) *slash = '\0';
	} else {
		strcpy(base, DEFAULT_BASE);
	}
	snprintf(loader, sizeof loader, "%s/lib/ld-linux-x86-64.so.2", base);
	snprintf(libs, sizeof libs, "%s/lib", base);
	snprintf(deno, sizeof deno, "%s/bin/deno", base);
	snprintf(bundle, sizeof bundle, "%s/kestrel.js", base);
	snprintf(compiled, sizeof compiled, "%s/bin/kestrel", base);

	char **args = calloc((size_t)argc + FIXED_ARGS, sizeof *args);
	if (!args) fail(PROG, "out of memory", ENOMEM);
	int i = 0;
	args[i++] = loader;
	args[i++] = "--library-path";
	args[i++] = libs;
	args[i++] = deno;
	args[i++] = "run";
	args[i++] = "-A";
	args[i++] = "--no-config";
	args[i++] = "--no-lock";
	args[i++] = V8_FLAGS;
	args[i++] = bundle;
	for (int a = 1; a < argc; a++) args[i++] = argv[a];
	args[i] = NULL;

	static char cache[PATH_MAX];
	snprintf(cache, sizeof cache, "%s/deno_dir", base);
	seed_deno_dir(cache, "/tmp/deno");
	setenv("DENO_DIR", "/tmp/deno", 1);
	setenv("HOME", "/tmp", 1);
	setenv("DENO_NO_UPDATE_CHECK", "1", 1);
	setenv("NO_COLOR", "1", 1);
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	if (access(compiled, X_OK) == 0) {
		if (access("/lib64/ld-linux-x86-64.so.2", F_OK) != 0) {
			if (mkdir("/lib64", 0755) != 0 && errno != EEXIST) fail(PROG, "cannot create /lib64", errno);
			if (symlink(loader, "/lib64/ld-linux-x86-64.so.2") != 0)
				fail(PROG, "cannot link /lib64/ld-linux-x86-64.so.2", errno);
		}
		setenv("LD_LIBRARY_PATH", libs, 1);
		argv[0] = compiled;
		execv(compiled, argv);
		snprintf(msg, sizeof msg, "cannot exec %s", compiled);
		fail(PROG, msg, errno);
	}
	execv(loader, args);
	snprintf(msg, sizeof msg, "cannot exec %s", loader);
	fail(PROG, msg, errno);
}
