/* volant-shim: PID 1 of every Volant guest (docs/development.md, "Guest boot
 * chain"). Mounts /dev, /proc, /sys, /run and /tmp, puts the console on fds
 * 0-2, then execs the custom init named by /.volant_init if there is one,
 * else kestrel: /bin/kestrel when the initramfs carries a compiled
 * agent, otherwise the agent image (/dev/<volant.agent_device>, default vda)
 * mounted read-only at /volant/agent.
 *
 * Workload first: with `volant.run` on the cmdline (the workload, pre-decoded
 * by volantd) the shim first switches root if the workload lives on the
 * rootfs, brings the network up and starts the workload, then execs kestrel
 * with VOLANT_SHIM="pid=<pid> fd=<log pipe> t=<CLOCK_BOOTTIME ms> root=<0|1>"
 * so kestrel adopts it (agent/adopt.ts). If any of that cannot be done exactly
 * as kestrel would, one line says why and kestrel does it as before. Any other
 * failure prints one line naming what failed and powers the VM off. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"
#include "shim.h"

#define AGENT_DIR "/volant/agent"
#define AGENT_KESTREL AGENT_DIR "/kestrel"
#define LOCAL_KESTREL "/bin/kestrel"
#define DEVICE_KEY "volant.agent_device="
#define DEVICE_WAIT_MS 5000
#define CUSTOM_INIT_FILE "/.volant_init"

static char msg[512];

static void make_dir(const char *path, mode_t mode) {
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(msg, sizeof msg, "cannot create %s", path);
		fail(PROG, msg, errno);
	}
}

/* EBUSY means it is already mounted (e.g. devtmpfs automount): fine. */
static void mount_fs(const char *type, const char *target, unsigned long flags, const char *data) {
	make_dir(target, 0755);
	if (mount(type, target, type, flags, data) != 0 && errno != EBUSY) {
		snprintf(msg, sizeof msg, "cannot mount %s on %s", type, target);
		fail(PROG, msg, errno);
	}
}

static void console_on_stdio(void) {
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0) fail(PROG, "cannot open /dev/console", errno);
	for (int i = 0; i < 3; i++) {
		if (fd != i && dup2(fd, i) < 0) fail(PROG, "cannot dup /dev/console onto fds 0-2", errno);
	}
	if (fd > 2) close(fd);
}

/* Reads volant.agent_device from /proc/cmdline into out (default "vda"). A
 * value that is not a plain device name is refused rather than guessed. */
static void agent_device(char *out, size_t size) {
	static char cmdline[4096];
	strncpy(out, "vda", size);
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) fail(PROG, "cannot read /proc/cmdline", errno);
	ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	if (n < 0) fail(PROG, "cannot read /proc/cmdline", errno);
	cmdline[n] = '\0';
	for (char *tok = strtok(cmdline, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
		if (strncmp(tok, DEVICE_KEY, strlen(DEVICE_KEY)) != 0) continue;
		const char *v = tok + strlen(DEVICE_KEY);
		size_t len = strlen(v);
		int ok = len > 0 && len < size;
		for (size_t i = 0; ok && i < len; i++) {
			char c = v[i];
			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     c == '-' || c == '_';
		}
		if (!ok) {
			snprintf(msg, sizeof msg, "bad %s'%.64s': expected a device name such as vda", DEVICE_KEY, v);
			fail(PROG, msg, 0);
		}
		memcpy(out, v, len + 1);
	}
}

/* virtio-blk normally probes before init runs; poll briefly, never forever. */
static int wait_for(const char *path, int ms) {
	struct timespec tick = {0, 10 * 1000 * 1000};
	for (int waited = 0; access(path, F_OK) != 0; waited += 10) {
		if (waited >= ms) return -1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* Switch root (if the workload is on the rootfs), network, workload; sets
 * VOLANT_SHIM for kestrel. Returns quietly after one line when it cannot. */
static void workload_first(int agent_mounted) {
	const char *text = boot_arg("volant.run");
	if (!text || !*text) return;
	static struct run_spec spec;
	static char why[256], env[300];
	int root = 0;
	if (run_spec_decode(text, &spec, why, sizeof why) != 0) goto skip;
	if (spec.switch_root) {
		if (!agent_mounted) {
			snprintf(why, sizeof why, "rootfs workload without the agent image: left to kestrel");
			goto skip;
		}
		const char *dev = boot_arg("volant.rootfs_device");
		const char *fstype = boot_arg("volant.rootfs_fstype");
		int rc = switch_root(dev && *dev ? dev : "vdb", fstype && *fstype ? fstype : "ext4", why,
		                     sizeof why);
		if (rc == -2) fail(PROG, why, 0);
		if (rc != 0) goto skip;
		root = 1;
	}
	if (net_up(why, sizeof why) != 0) goto skip;
	struct timespec now;
	int log_fd = -1;
	pid_t pid = workload_start(&spec, &log_fd, why, sizeof why);
	if (pid < 0) goto skip;
	clock_gettime(CLOCK_BOOTTIME, &now);
	/* fd 3 without close-on-exec survives the exec of kestrel. */
	if (log_fd != 3) {
		if (dup2(log_fd, 3) < 0) fail(PROG, "cannot move the workload's log pipe to fd 3", errno);
		close(log_fd);
	} else {
		fcntl(3, F_SETFD, 0);
	}
	snprintf(env, sizeof env, "pid=%d fd=3 t=%lld root=%d", (int)pid,
	         (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, root);
	setenv("VOLANT_SHIM", env, 1);
	return;
skip:
	if (root) setenv("VOLANT_SHIM", "root=1", 1);
	snprintf(env, sizeof env, "workload-first skipped: %s", why);
	say(PROG, env, 0);
}

static void exec_kestrel(const char *path, char **argv) {
	argv[0] = "kestrel";
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	execv(path, argv);
	snprintf(msg, sizeof msg, "cannot exec %s", path);
	fail(PROG, msg, errno);
}

/* fledge's `[init] path`: /.volant_init names (first line, absolute path) a
 * program that runs as PID 1 instead of kestrel, after the mounts above. */
static void exec_custom_init_if_any(void) {
	static char path[256];
	int fd = open(CUSTOM_INIT_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) return;
		fail(PROG, "cannot read " CUSTOM_INIT_FILE, errno);
	}
	ssize_t n = read(fd, path, sizeof path - 1);
	close(fd);
	if (n < 0) fail(PROG, "cannot read " CUSTOM_INIT_FILE, errno);
	path[n] = '\0';
	path[strcspn(path, "\r\n")] = '\0';
	if (path[0] != '/') {
		snprintf(msg, sizeof msg, "%s must hold an absolute path, not '%.64s'", CUSTOM_INIT_FILE, path);
		fail(PROG, msg, 0);
	}
	char *init_argv[] = {path, NULL};
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	execv(path, init_argv);
	snprintf(msg, sizeof msg, "cannot exec custom init %s (named by %s)", path, CUSTOM_INIT_FILE);
	fail(PROG, msg, errno);
}

int main(int argc, char **argv) {
	(void)argc;
	umask(022);
	mount_fs("devtmpfs", "/dev", MS_NOSUID, "mode=0755");
	console_on_stdio();
	mount_fs("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_fs("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_fs("tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755");
	mount_fs("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777");

	exec_custom_init_if_any();
	boot_args_load();
	if (access(LOCAL_KESTREL, X_OK) == 0) {
		workload_first(0);
		exec_kestrel(LOCAL_KESTREL, argv);
	}

	char dev_name[33];
	char dev[48];
	agent_device(dev_name, sizeof dev_name);
	snprintf(dev, sizeof dev, "/dev/%s", dev_name);
	if (wait_for(dev, DEVICE_WAIT_MS) != 0) {
		snprintf(msg, sizeof msg, "cannot mount %s on %s: no such device after %d s (agent image not attached?)",
		         dev, AGENT_DIR, DEVICE_WAIT_MS / 1000);
		fail(PROG, msg, 0);
	}
	make_dir("/volant", 0755);
	make_dir(AGENT_DIR, 0755);
	if (mount(dev, AGENT_DIR, "ext4", MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) != 0) {
		snprintf(msg, sizeof msg, "cannot mount %s on %s", dev, AGENT_DIR);
		fail(PROG, msg, errno);
	}
	workload_first(1);
	exec_kestrel(AGENT_KESTREL, argv);
}
