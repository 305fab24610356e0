/* What `mlrig check` says about the GPU payload's versions: TensorFlow's tested
 * CUDA/cuDNN table, the Python it needs, and the driver each CUDA release needs.
 * Policy is data: the tables carry where they come from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deb-version.h"
#include "macro.h"
#include "gpu-payload.h"
#include "parse-util.h"

/* tensorflow.org/install/source#gpu, "Tested build configurations" */
static const struct {
	unsigned tf_from, tf_to; /* minor versions of 2.x */
	const char *cuda, *cudnn;
	const char *python_min;
} tf_tested[] = {
	{ 4, 4, "11.0", "8.0", "3.6" },
	{ 5, 11, "11.2", "8.1", "3.6" },
	{ 12, 13, "11.8", "8.6", "3.8" },
	{ 14, 14, "11.8", "8.7", "3.9" },
	{ 15, 15, "12.2", "8.9", "3.9" },
	{ 16, 17, "12.3", "8.9", "3.9" },
};

/* CUDA's release notes, "CUDA Toolkit and Corresponding Driver Versions" (Linux, minor version compatibility) */
static const struct {
	unsigned cuda_major;
	const char *driver_min;
} driver_min[] = {
	{ 11, "450.80.02" },
	{ 12, "525.60.13" },
};

/* The number v starts with; -EINVAL when it starts with none. */
static int leading_uint(const char *v, unsigned *ret) {
	unsigned long x;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	x = strtoul(v, &end, 10);
	if (x > 100000)
		return -EINVAL;
	*ret = (unsigned)x;
	return 0;
}

/* "11.4" of "11.4.4" into buf. */
static const char *major_minor(const char *v, char *buf, size_t size) {
	size_t n = strspn(v, "0123456789");

	if (v[n] == '.')
		n += 1 + strspn(v + n + 1, "0123456789");
	snprintf(buf, size, "%.*s", (int)n, v);
	return buf;
}

/* The requirement naming tensorflow (or tensorflow-gpu), or NULL. */
static const char *tf_requirement(const Profile *p) {
	for (char **r = p->requirements; r && *r; r++) {
		size_t n = strspn(*r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

		if ((n == 10 && strncasecmp(*r, "tensorflow", 10) == 0) ||
		    (n == 14 && strncasecmp(*r, "tensorflow-gpu", 14) == 0) ||
		    (n == 14 && strncasecmp(*r, "tensorflow_gpu", 14) == 0))
			return *r;
	}
	return NULL;
}

/* The 2.x minor that "tensorflow==2.11.0" or "tensorflow~=2.11" pins; -1 when not pinned so. */
static int tf_minor(const char *req) {
	const char *v = strstr(req, "==");
	unsigned minor;

	if (!v && (v = strstr(req, "~=")) == NULL)
		return -1;
	v += 2;
	if (strncmp(v, "2.", 2) != 0 || leading_uint(v + 2, &minor) < 0)
		return -1;
	return (int)minor;
}

static int python_compare(const char *a, const char *b) {
	return deb_version_compare(a, b);
}

static void warn_tf(FILE *f, const Profile *p, const struct gpu_plan *pl, const char *python) {
	const char *req = tf_requirement(p);
	char cuda[16], cudnn[16];
	int minor;

	if (!req || !pl->cuda_version)
		return;
	minor = tf_minor(req);
	major_minor(pl->cuda_version, cuda, sizeof(cuda));
	major_minor(pl->cudnn_version ?: "", cudnn, sizeof(cudnn));
	if (minor < 0) {
		fprintf(f, "[Python] Requirements=%s is not pinned (==2.X): pip takes the newest TensorFlow, which may not be "
			"built for the payload's CUDA %s%s%s; pin the TensorFlow tested with them\n", req, cuda,
			pl->cudnn_version ? " and cuDNN " : "", pl->cudnn_version ? cudnn : "");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(tf_tested); i++) {
		if ((unsigned)minor < tf_tested[i].tf_from || (unsigned)minor > tf_tested[i].tf_to)
			continue;
		if (strcmp(cuda, tf_tested[i].cuda) != 0 || (pl->cudnn_version && strcmp(cudnn, tf_tested[i].cudnn) != 0))
			fprintf(f, "[Python] Requirements=%s: TensorFlow 2.%d is tested with CUDA %s and cuDNN %s "
				"(TensorFlow's tested build configurations); the payload has CUDA %s%s%s\n", req, minor,
				tf_tested[i].cuda, tf_tested[i].cudnn, pl->cuda_version,
				pl->cudnn_version ? " and cuDNN " : " and no cuDNN", pl->cudnn_version ?: "");
		if (python_compare(python ?: "3.8", tf_tested[i].python_min) < 0)
			fprintf(f, "[Python] Requirements=%s: TensorFlow 2.%d needs Python %s or newer; the rootfs has %s%s\n",
				req, minor, tf_tested[i].python_min, python ?: "3.8",
				python ? "" : " (Ubuntu 20.04's)");
		return;
	}
	fprintf(f, "[Python] Requirements=%s: TensorFlow 2.%d is not in mlrig's table of tested CUDA/cuDNN versions "
		"(2.4 to 2.17)\n", req, minor);
}

static void warn_driver(FILE *f, const struct gpu_plan *pl) {
	unsigned major;

	if (!pl->cuda_version || !pl->driver_version || leading_uint(pl->cuda_version, &major) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(driver_min); i++)
		if (driver_min[i].cuda_major == major && deb_version_compare(pl->driver_version, driver_min[i].driver_min) < 0)
			fprintf(f, "[GPU] Driver=%s is driver %s; CUDA %s needs %s or newer\n", pl->driver_package,
				pl->driver_version, pl->cuda_version, driver_min[i].driver_min);
}

char *gpu_python_version(const char *status) {
	_cleanup_free_ char *v = status ? deb_index_version(status, "python3") : NULL;
	char buf[16];

	if (!v)
		return NULL;
	return strdup(major_minor(v + (strchr(v, ':') ? strcspn(v, ":") + 1 : 0), buf, sizeof(buf)));
}

int gpu_plan_warnings(const Profile *p, const struct gpu_plan *pl, const char *python_version, char **ret) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	warn_tf(f, p, pl, python_version);
	warn_driver(f, pl);
	if (fclose(f) != 0)
		return -ENOMEM;
	if (size == 0) {
		free(text);
		text = NULL;
	} else
		text[size - 1] = 0; /* the last newline */
	*ret = text;
	return 0;
}
