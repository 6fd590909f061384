/* Starts the workload the way kestrel's supervisor would (agent/workload_spec.ts,
 * agent/user.ts): the environment PATH (default), HOME, USER/LOGNAME of the
 * resolved user, then workload.env; the program found on that PATH; its own
 * session; stdin /dev/null; stdout and stderr on one pipe that kestrel reads
 * once it is up (1 MiB, so early output waits there instead of being lost).
 * Anything the shim cannot resolve exactly as kestrel would (unknown user,
 * program not found) returns -1 with nothing started: kestrel then starts it
 * and reports the problem itself. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fail.h"
#include "shim.h"

#define PIPE_BYTES (1 << 20)

struct ids {
	uid_t uid;
	gid_t gid;
	int set;
	char name[256];
	char home[256];
};

static int digits(const char *s) {
	if (!*s) return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9') return 0;
	return 1;
}

/* The first line of `path` whose field `key_field` (0-based)
 * equals `key`, split into its first 7 fields in f[]; -1 when none. */
static int find_line(const char *path, int key_field, const char *key, char f[7][256]) {
	FILE *fp = fopen(path, "re");
	if (!fp) return -1;
	static char line[1024];
	int found = -1;
	while (found < 0 && fgets(line, sizeof line, fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0') continue;
		int i = 0;
		char *p = line;
		for (; i < 7; i++) {
			char *c = strchr(p, ':');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			if (len >= 256) len = 255;
			memcpy(f[i], p, len);
			f[i][len] = '\0';
			if (!c) {
				i++;
				break;
			}
			p = c + 1;
		}
		for (; i < 7; i++) f[i][0] = '\0';
		if (strcmp(f[key_field], key) == 0) found = 0;
	}
	fclose(fp);
	return found;
}

static int resolve_user(const char *spec, struct ids *out, char *why, size_t why_size) {
	char user[128], f[7][256];
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	if (ulen == 0 || ulen >= sizeof user) goto bad;
	memcpy(user, spec, ulen);
	user[ulen] = '\0';
	long gid = -1;
	snprintf(out->home, sizeof out->home, "/");
	snprintf(out->name, sizeof out->name, "%s", user);
	if (digits(user)) {
		out->uid = (uid_t)strtoul(user, NULL, 10);
		if (find_line("/etc/passwd", 2, user, f) == 0) {
			gid = strtol(f[3], NULL, 10);
			if (f[5][0]) snprintf(out->home, sizeof out->home, "%s", f[5]);
			snprintf(out->name, sizeof out->name, "%s", f[0]);
		}
	} else {
		if (find_line("/etc/passwd", 0, user, f) != 0) goto bad;
		out->uid = (uid_t)strtoul(f[2], NULL, 10);
		gid = strtol(f[3], NULL, 10);
		if (f[5][0]) snprintf(out->home, sizeof out->home, "%s", f[5]);
	}
	if (colon) {
		if (digits(colon + 1)) gid = strtol(colon + 1, NULL, 10);
		else if (find_line("/etc/group", 0, colon + 1, f) == 0) gid = strtol(f[2], NULL, 10);
		else goto bad;
	}
	out->gid = gid < 0 ? (gid_t)out->uid : (gid_t)gid;
	out->set = 1;
	return 0;
bad:
	snprintf(why, why_size, "workload.user \"%.64s\" left to kestrel", spec);
	return -1;
}

/* The program on `path` as execvp would find it; absolute or relative names with a slash pass. */
static int look_path(const char *name, const char *path, char *out, size_t size) {
	if (strchr(name, '/')) {
		snprintf(out, size, "%s", name);
		return 0;
	}
	for (const char *p = path; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)len, p, name) < size) {
			struct stat st;
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) return 0;
		}
		p += len;
		if (*p == ':') p++;
	}
	return -1;
}

static void put_env(char **env, int *n, int max, char *entry) {
	size_t klen = strcspn(entry, "=");
	for (int i = 0; i < *n; i++) {
		if (strncmp(env[i], entry, klen) == 0 && env[i][klen] == '=') {
			env[i] = entry;
			return;
		}
	}
	if (*n < max) env[(*n)++] = entry;
}

pid_t workload_start(const struct run_spec *spec, int *log_fd, char *why, size_t why_size) {
	static char path_var[1024], home_var[300], user_var[300], logname_var[300], program[1024];
	static char *env[RUN_MAX_ENV + 8];
	struct ids ids = {0};
	if (spec->user && resolve_user(spec->user, &ids, why, why_size) != 0) return -1;
	int n = 0;
	snprintf(path_var, sizeof path_var, "PATH=%s", SHIM_PATH);
	snprintf(home_var, sizeof home_var, "HOME=%s", ids.set ? ids.home : "/root");
	put_env(env, &n, RUN_MAX_ENV + 7, path_var);
	put_env(env, &n, RUN_MAX_ENV + 7, home_var);
	if (ids.set) {
		snprintf(user_var, sizeof user_var, "USER=%s", ids.name);
		snprintf(logname_var, sizeof logname_var, "LOGNAME=%s", ids.name);
		put_env(env, &n, RUN_MAX_ENV + 7, user_var);
		put_env(env, &n, RUN_MAX_ENV + 7, logname_var);
	}
	for (int i = 0; i < spec->envc; i++) put_env(env, &n, RUN_MAX_ENV + 7, spec->env[i]);
	env[n] = NULL;
	const char *path = SHIM_PATH;
	for (int i = 0; i < n; i++)
		if (strncmp(env[i], "PATH=", 5) == 0) path = env[i] + 5;
	if (look_path(spec->argv[0], path, program, sizeof program) != 0) {
		snprintf(why, why_size, "\"%.64s\" not on PATH: left to kestrel", spec->argv[0]);
		return -1;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, why_size, "pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(fds[0], F_SETPIPE_SZ, PIPE_BYTES); /* best effort: 64 KiB is the fallback */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_size, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		static char msg[1200];
		const char *what = "setsid";
		int null = open("/dev/null", O_RDONLY);
		if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			goto child_fail;
		what = "chdir";
		if (chdir(spec->workdir ? spec->workdir : "/") != 0) goto child_fail;
		if (ids.set) {
			what = "setgroups/setgid/setuid";
			if (setgroups(0, NULL) != 0 || setgid(ids.gid) != 0 || setuid(ids.uid) != 0)
				goto child_fail;
		}
		what = "exec";
		execve(program, spec->argv, env);
	child_fail:
		snprintf(msg, sizeof msg, "workload %s %s", what, program);
		say(PROG, msg, errno);
		_exit(127);
	}
	close(fds[1]);
	*log_fd = fds[0];
	return pid;
}
