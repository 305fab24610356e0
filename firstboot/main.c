/* mlrig-firstboot: the agent that finalises a rig on its first boot. This
 * first version only answers --help and --version; its stages land with the
 * first-boot agent work (issue 3), and images do not install it yet. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("mlrig-firstboot %s\n", MLRIG_VERSION);
		return 0;
	}
	printf("Usage:\n mlrig-firstboot [--root DIR] run|status|stage NAME\n\n"
	       "Finalise a rig on its first boot (host keys, users, sshd, DDNS, GPU, venv, boot order).\n");
	return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
