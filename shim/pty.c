/* volant-pty: runs one process on a new pseudo-terminal for kestrel, which
 * has no openpty (Deno). Usage: volant-pty ROWS COLS UID GID PROGRAM [ARGS...]
 * (UID/GID -1 = keep). The process inherits this helper's cwd and environment.
 *
 * stdin/stdout carry frames: 1 type byte, 4 length bytes (big endian), payload.
 *   in : 'd' bytes for the terminal; 'r' rows(2) cols(2); 's' signal number(1)
 *   out: 'd' bytes from the terminal; 'x' kind(1: 0 exited, 1 signalled) value(1)
 * The process is a session leader with the terminal as its controlling tty,
 * so Ctrl-C typed as a byte reaches its foreground group through the line
 * discipline. When it exits, or stdin ends (the session is over), every
 * process of its session (all of a shell's jobs) is SIGKILLed and every child
 * of the helper is reaped (it is a subreaper, so orphans of the session come
 * back to it) before it exits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_PAYLOAD 65536
#define HDR 5

static int wake[2];

static void on_chld(int sig) {
	(void)sig;
	int e = errno;
	(void)!write(wake[1], "c", 1);
	errno = e;
}

static void on_alarm(int sig) {
	(void)sig;
}

static void die(const char *what) {
	fprintf(stderr, "volant-pty: %s: %s\n", what, strerror(errno));
	exit(125);
}

static int write_all(int fd, const void *buf, size_t n) {
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {fd, POLLOUT, 0};
			poll(&pf, 1, -1);
			continue;
		}
		if (w <= 0) return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int out_closed;

static void send_frame(char type, const void *payload, uint32_t len) {
	if (out_closed) return;
	unsigned char h[HDR] = {(unsigned char)type, len >> 24, len >> 16, len >> 8, len};
	if (write_all(1, h, HDR) != 0 || write_all(1, payload, len) != 0) out_closed = 1;
}

/* A guest boots without /dev/pts: mount a devpts instance there (the
 * devtmpfs /dev/ptmx node opens the one at /dev/pts). */
static void ensure_devpts(void) {
	struct stat st;
	if (stat("/dev/pts/ptmx", &st) == 0) return;
	mkdir("/dev/pts", 0755);
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666") != 0 &&
	    errno != EBUSY) {
		fprintf(stderr, "volant-pty: mount devpts on /dev/pts: %s\n", strerror(errno));
	}
}

static int open_master(void) {
	int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) fd = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) die("open /dev/ptmx");
	if (grantpt(fd) != 0) die("grantpt");
	if (unlockpt(fd) != 0) die("unlockpt");
	return fd;
}

static void child(const char *slave_name, struct winsize *ws, long uid, long gid, char **argv) {
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	if (setsid() < 0) die("setsid");
	int s = open(slave_name, O_RDWR);
	if (s < 0) die("open the terminal");
	if (ioctl(s, TIOCSCTTY, 0) != 0) die("TIOCSCTTY");
	ioctl(s, TIOCSWINSZ, ws);
	for (int i = 0; i < 3; i++) {
		if (dup2(s, i) < 0) die("dup2");
	}
	if (s > 2) close(s);
	if (gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0)) die("setgid");
	if (uid >= 0 && setuid((uid_t)uid) != 0) die("setuid");
	execvp(argv[0], argv);
	fprintf(stderr, "volant-pty: cannot run %s: %s\r\n", argv[0], strerror(errno));
	_exit(127);
}

/* SIGKILLs every process of session `sid` (a job-control shell puts each job
 * in its own process group, so the group alone is not enough); returns how
 * many it signalled. */
static int kill_session(pid_t sid) {
	int n = 0;
	DIR *d = opendir("/proc");
	if (!d) return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end != '\0' || p <= 0) continue;
		char path[64], stat[512];
		snprintf(path, sizeof path, "/proc/%ld/stat", p);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) continue;
		ssize_t len = read(fd, stat, sizeof stat - 1);
		close(fd);
		if (len <= 0) continue;
		stat[len] = '\0';
		char *rp = strrchr(stat, ')');
		char state;
		long ppid, pgrp, session;
		if (!rp || sscanf(rp + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) != 4) continue;
		if (session == sid && state != 'Z' && kill((pid_t)p, SIGKILL) == 0) n++;
	}
	closedir(d);
	return n;
}

/* Kills what is left of the session and reaps every child (the helper is a
 * subreaper, so the session's orphans are its children). Bounded: a process
 * that left the session on its own (setsid) is not waited for long. */
static void end_session(pid_t pid) {
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	/* Repeat: a process may fork while the session is being killed. */
	for (int i = 0; i < 8 && kill_session(pid) > 0; i++) {
	}
	alarm(5); /* SIGALRM (on_alarm) interrupts waitpid */
	while (waitpid(-1, NULL, 0) > 0) {
	}
}

static long num_arg(const char *s) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s) {
		fprintf(stderr, "volant-pty: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv) {
	if (argc < 6) {
		fprintf(stderr, "usage: volant-pty ROWS COLS UID GID PROGRAM [ARGS...]\n");
		return 2;
	}
	struct winsize ws = {(unsigned short)num_arg(argv[1]), (unsigned short)num_arg(argv[2]), 0, 0};
	long uid = num_arg(argv[3]), gid = num_arg(argv[4]);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	ensure_devpts();
	int m = open_master();
	char *name = ptsname(m);
	if (!name) die("ptsname");
	if (uid >= 0 && chown(name, (uid_t)uid, gid >= 0 ? (gid_t)gid : (gid_t)-1) != 0) die("chown");
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) child(name, &ws, uid, gid, argv + 5);
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);

	static unsigned char in[HDR + MAX_PAYLOAD], buf[MAX_PAYLOAD];
	size_t have = 0;          /* bytes of `in` filled */
	size_t pend = 0, off = 0; /* a data payload still to write to the terminal */
	int status = 0, exited = 0;
	while (!exited) {
		struct pollfd p[3] = {
		    {0, pend == 0 ? POLLIN : 0, 0},
		    {m, POLLIN | (pend ? POLLOUT : 0), 0},
		    {wake[0], POLLIN, 0},
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR) continue;
			die("poll");
		}
		if (p[2].revents) {
			char c[64];
			while (read(wake[0], c, sizeof c) > 0) {
			}
			pid_t w;
			int st;
			while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
				if (w == pid) {
					status = st;
					exited = 1;
				}
			}
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = read(m, buf, sizeof buf);
			if (n > 0) send_frame('d', buf, (uint32_t)n);
		}
		if (pend && (p[1].revents & POLLOUT)) {
			ssize_t w = write(m, in + HDR + off, pend - off);
			if (w > 0) off += (size_t)w;
			if (off == pend) {
				memmove(in, in + HDR + pend, have - HDR - pend);
				have -= HDR + pend;
				pend = off = 0;
			}
		}
		if (p[0].revents) {
			ssize_t n = read(0, in + have, sizeof in - have);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) {
				end_session(pid);
				return 0;
			}
			have += (size_t)n;
		}
		/* Handle whole frames; a data frame waits in `in` until the terminal took it. */
		while (pend == 0 && have >= HDR) {
			uint32_t len = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
			if (len > MAX_PAYLOAD) {
				fprintf(stderr, "volant-pty: frame of %u bytes\n", len);
				end_session(pid);
				return 2;
			}
			if (have < HDR + len) break;
			unsigned char *pl = in + HDR;
			if (in[0] == 'd' && len > 0) {
				pend = len;
				break;
			}
			if (in[0] == 'r' && len == 4) {
				struct winsize nw = {(unsigned short)(pl[0] << 8 | pl[1]), (unsigned short)(pl[2] << 8 | pl[3]), 0, 0};
				ioctl(m, TIOCSWINSZ, &nw);
			} else if (in[0] == 's' && len == 1) {
				pid_t fg = tcgetpgrp(m);
				kill(fg > 0 ? -fg : -pid, pl[0]);
			}
			memmove(in, in + HDR + len, have - HDR - len);
			have -= HDR + len;
		}
	}
	/* What the process wrote before it exited is in the terminal's buffer. */
	for (;;) {
		ssize_t n = read(m, buf, sizeof buf);
		if (n > 0) {
			send_frame('d', buf, (uint32_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR) continue;
		break;
	}
	end_session(pid);
	unsigned char x[2] = {WIFSIGNALED(status) ? 1 : 0,
	                      (unsigned char)(WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status))};
	send_frame('x', x, 2);
	return 0;
}
