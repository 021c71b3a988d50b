/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The default sink for applications: DIR/<ODCID>.sqlog (BRIEF §10), opened
 * with stdio at the first flush (the ODCID is known by then: the trace
 * header names it). The engine never calls this by itself: it is only the
 * write callback an application may install.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlog/qlog_internal.h"

struct qb_qlog_file {
	struct qb_qlog *q;
	FILE *f;
	bool failed;
	char dir[];
};

static size_t
file_write(void *arg, const void *buf, size_t len)
{
	struct qb_qlog_file *fs = arg;

	if (fs->failed)
		return 0;
	if (fs->f == NULL) {
		const char *id = qb_qlog_odcid_hex(fs->q);
		size_t n = strlen(fs->dir) + 1 + strlen(id) + sizeof(".sqlog");
		char *path = malloc(n);
		if (path == NULL) {
			fs->failed = true;
			return 0;
		}
		snprintf(path, n, "%s/%s.sqlog", fs->dir, id[0] ? id : "unknown");
		fs->f = fopen(path, "wb");
		free(path);
		if (fs->f == NULL) {
			fs->failed = true;
			return 0;
		}
	}
	return fwrite(buf, 1, len, fs->f);
}

struct qb_qlog_file *
qb_qlog_file_open(const char *dir, const struct qb_qlog_config *cfg)
{
	size_t dl = strlen(dir);
	struct qb_qlog_file *fs = calloc(1, sizeof(*fs) + dl + 1);
	if (fs == NULL)
		return NULL;
	memcpy(fs->dir, dir, dl + 1);
	struct qb_qlog_config k = {0};
	if (cfg != NULL)
		k = *cfg;
	k.sink.write = file_write;
	k.sink.arg = fs;
	fs->q = qb_qlog_new(&k);
	if (fs->q == NULL) {
		free(fs);
		return NULL;
	}
	return fs;
}

struct qb_qlog *
qb_qlog_file_qlog(struct qb_qlog_file *fs)
{
	return fs->q;
}

int
qb_qlog_file_close(struct qb_qlog_file *fs)
{
	if (fs == NULL)
		return 0;
	int rc = 0;
	qb_qlog_free(fs->q);
	if (fs->f != NULL && fclose(fs->f) != 0)
		rc = -1;
	if (fs->failed)
		rc = -1;
	free(fs);
	return rc;
}
