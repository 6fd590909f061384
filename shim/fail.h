/* Shared by the shim and the launcher: report ONE line on the console, then
 * power off. PID 1 must never hang or loop through panics: if reboot(2) is
 * refused we pause forever without spinning. */
#ifndef VOLANT_FAIL_H
#define VOLANT_FAIL_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>

static void put_str(int fd, const char *s) {
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return;
		s += w;
		n -= (size_t)w;
	}
}

/* Writes "<prog>: <what>: <strerror(err)>\n" (err 0 = no suffix). Falls back
 * to /dev/kmsg when fd 2 is not usable (no console yet). */
__attribute__((unused)) static void say(const char *prog, const char *what, int err) {
	char line[512];
	line[0] = '\0';
	strncat(line, prog, sizeof line - 1);
	strncat(line, ": ", sizeof line - strlen(line) - 1);
	strncat(line, what, sizeof line - strlen(line) - 1);
	if (err != 0) {
		strncat(line, ": ", sizeof line - strlen(line) - 1);
		strncat(line, strerror(err), sizeof line - strlen(line) - 1);
	}
	strncat(line, "\n", sizeof line - strlen(line) - 1);
	if (fcntl(2, F_GETFD) >= 0) {
		put_str(2, line);
		tcdrain(2); /* let the UART drain before the VM disappears */
		return;
	}
	int k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (k >= 0) {
		put_str(k, line);
		close(k);
	}
}

__attribute__((unused)) static _Noreturn void fail(const char *prog, const char *what, int err) {
	say(prog, what, err);
	if (getpid() == 1) {
		sync();
		reboot(RB_POWER_OFF);
		say(prog, "reboot(RB_POWER_OFF) failed, halting here", errno);
		for (;;) pause();
	}
	_exit(127);
}

#endif
