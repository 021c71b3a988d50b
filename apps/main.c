/* SPDX-License-Identifier: BSD-3-Clause */
/* Placeholder entry point until the foundation's app lands. */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: qburst [EAL options] -- [app options]\n");
			return 0;
		}
	}
	fprintf(stderr, "qburst: no mode implemented yet\n");
	return 2;
}
