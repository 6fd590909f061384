/* Test driver for shim/shim_test.ts: `units args <cmdline> <key>...` prints
 * each key's value (or "(none)"); `units run <value>` prints the decoded
 * volant.run records or the refusal. */
#include <stdio.h>
#include <string.h>

#include "../shim.h"

int main(int argc, char **argv) {
	if (argc >= 3 && strcmp(argv[1], "args") == 0) {
		static char text[4096];
		snprintf(text, sizeof text, "%s", argv[2]);
		boot_args_parse(text);
		for (int i = 3; i < argc; i++) {
			const char *v = boot_arg(argv[i]);
			printf("%s=%s\n", argv[i], v ? v : "(none)");
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "run") == 0) {
		static struct run_spec spec;
		char why[256];
		if (run_spec_decode(argv[2], &spec, why, sizeof why) != 0) {
			printf("refused: %s\n", why);
			return 0;
		}
		for (int i = 0; i < spec.argc; i++) printf("arg %s\n", spec.argv[i]);
		for (int i = 0; i < spec.envc; i++) printf("env %s\n", spec.env[i]);
		if (spec.workdir) printf("workdir %s\n", spec.workdir);
		if (spec.user) printf("user %s\n", spec.user);
		printf("switch_root %d\n", spec.switch_root);
		return 0;
	}
	return 2;
}
