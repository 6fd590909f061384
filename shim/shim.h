/* Declarations shared by the shim's source files (init.c, boot_args.c,
 * net_up.c, run_spec.c, workload_start.c, switch_root.c). */
#ifndef VOLANT_SHIM_H
#define VOLANT_SHIM_H

#include <stddef.h>
#include <sys/types.h>

#define PROG "volant-shim"
#define SHIM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* boot_args.c: /proc/cmdline, read once. */
void boot_args_load(void);
/* Splits `text` (modified in place, kept) into the arguments boot_arg() reads. */
void boot_args_parse(char *text);
/* The value of `key=` (key without '='), or NULL; last one wins as in kestrel. */
const char *boot_arg(const char *key);

/* net_up.c: lo up; eth0 address/prefix, MTU, up, default route; hostname.
 * Returns 0, or -1 with a one-line reason in why. */
int net_up(char *why, size_t why_size);

/* run_spec.c: the decoded `volant.run` value (see docs/development.md). */
#define RUN_MAX_ARGS 64
#define RUN_MAX_ENV 128
struct run_spec {
	char *argv[RUN_MAX_ARGS + 1];
	int argc;
	char *env[RUN_MAX_ENV + 1];
	int envc;
	const char *workdir;
	const char *user;
	int switch_root;
};
int run_spec_decode(const char *text, struct run_spec *out, char *why, size_t why_size);

/* workload_start.c: resolves user and program, starts the workload in its own
 * session with stdout+stderr on a pipe. Returns its pid and the pipe's read
 * end, or -1 with a reason (nothing started). */
pid_t workload_start(const struct run_spec *spec, int *log_fd, char *why, size_t why_size);

/* switch_root.c: mounts /dev/<device> and makes it / (kestrel's MountTable.switchRoot). */
int switch_root(const char *device, const char *fstype, char *why, size_t why_size);

#endif
