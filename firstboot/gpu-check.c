/* gpu-check's library half and its report: cuDNN's version, the venv's
 * TensorFlow, the verdict, and the report as text and as JSON. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlopen-util.h"
#include "error.h"
#include "gpu-check.h"
#include "process.h"

void gpu_report_release(struct gpu_report *r) {
	free(r->nvml_error);
	free(r->cuda_error);
	free(r->cuda_library);
	free(r->cudnn_error);
	free(r->tf_venv);
	free(r->tf_version);
	free(r->tf_gpus);
	free(r->tf_error);
	*r = (struct gpu_report){};
}

void gpu_cudnn_version_string(uint64_t raw, char *buf, size_t size) {
	if (raw >= 90000) /* 9.x changed the encoding: 9.1.0 is 90100 */
		snprintf(buf, size, "%llu.%llu.%llu", (unsigned long long)(raw / 10000),
			 (unsigned long long)(raw % 10000 / 100), (unsigned long long)(raw % 100));
	else
		snprintf(buf, size, "%llu.%llu.%llu", (unsigned long long)(raw / 1000),
			 (unsigned long long)(raw % 1000 / 100), (unsigned long long)(raw % 100));
}

void gpu_cuda_version_string(int v, char *buf, size_t size) {
	if (v <= 0)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%d.%d", v / 1000, v % 1000 / 10);
}

void gpu_probe_cudnn(struct gpu_report *r) {
	/* 8 first: TensorFlow up to 2.15 (CUDA 11/12.2) is built against it */
	static const char *const names[] = { "libcudnn.so.8", "libcudnn.so.9", "libcudnn.so", NULL };
	size_t (*get_version)(void) = NULL;
	const struct dlsym_entry syms[] = { { "cudnnGetVersion", (void **)&get_version, false } };
	_cleanup_free_ char *error = NULL;
	void *h = NULL;

	if (dlopen_resolve(names, syms, ELEMENTSOF(syms), &h, &error) < 0) {
		if (strstr(error, "cannot open"))
			set_error(&r->cudnn_error, -ELIBACC,
				  "libcudnn.so.8 not found: cuDNN is not installed ([GPU] CUDNN= a cuDNN tarball or "
				  "its debs), or its directory is not in /etc/ld.so.conf.d (run ldconfig)");
		else
			set_error(&r->cudnn_error, -ELIBACC, "%s", error);
		return;
	}
	r->cudnn_raw = get_version();
	gpu_cudnn_version_string(r->cudnn_raw, r->cudnn_version, sizeof(r->cudnn_version));
	r->cudnn_ok = r->cudnn_raw > 0;
	if (!r->cudnn_ok)
		set_error(&r->cudnn_error, -EIO, "cudnnGetVersion() returned 0");
	/* not dlclose()d: cuDNN 9 loads its sub-libraries, which may keep threads */
}

/* Prints "tf VERSION" and one "gpu NAME" line per GPU; "no-tensorflow" when it does not import. */
static const char tf_script[] =
	"import sys\n"
	"try:\n"
	"    import tensorflow as tf\n"
	"except ImportError:\n"
	"    print('no-tensorflow'); sys.exit(0)\n"
	"print('tf', tf.__version__)\n"
	"for d in tf.config.list_physical_devices('GPU'):\n"
	"    print('gpu', d.name)\n";

static int parse_tf_output(struct gpu_report *r, char *out) {
	size_t n = 0, size = 0;
	FILE *f = open_memstream(&r->tf_gpus, &size);

	if (!f)
		return -ENOMEM;
	for (char *line = out, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (strcmp(line, "no-tensorflow") == 0)
			r->tf_present = false;
		else if (strncmp(line, "tf ", 3) == 0) {
			r->tf_present = true;
			free(r->tf_version);
			r->tf_version = strdup(line + 3);
		} else if (strncmp(line, "gpu ", 4) == 0)
			fprintf(f, "%s%s", n++ ? "\n" : "", line + 4);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	r->tf_ok = r->tf_present && n > 0;
	if (r->tf_present && n == 0)
		set_error(&r->tf_error, -ENODEV,
			  "TensorFlow %s in %s lists no GPU: its CUDA and cuDNN are not the ones installed (see "
			  "TensorFlow's tested table) or the driver is not working",
			  r->tf_version ? r->tf_version : "?", r->tf_venv);
	return 0;
}

void gpu_probe_tensorflow(struct gpu_report *r, const char *venv_host, const char *venv) {
	_cleanup_free_ char *python = NULL;
	struct process_result res = {};
	int rc;

	if (!venv_host || asprintf(&python, "%s/bin/python", venv_host) < 0 || access(python, X_OK) < 0)
		return;
	r->tf_venv = strdup(venv);
	char *argv[] = { python, "-c", (char *)tf_script, NULL };
	/* TensorFlow's own logging goes to stderr: keep it out of the report */
	char *env[] = { "TF_CPP_MIN_LOG_LEVEL=2", NULL };
	struct process_options o = {
		.argv = argv, .env_set = env, .stdin_mode = PROCESS_NULL,
		.stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_CAPTURE, .timeout_ms = 300 * 1000,
	};

	rc = process_run(&o, &res);
	if (rc < 0)
		set_error(&r->tf_error, rc, "cannot run %s: %s", python, strerror(-rc));
	else if (parse_tf_output(r, res.out ? res.out : (char *)"") < 0)
		set_error(&r->tf_error, -ENOMEM, "out of memory");
	else if (rc != 0 && !r->tf_error) {
		char buf[64];
		const char *err = res.err ? res.err : "";
		size_t len = strlen(err);

		r->tf_present = true;
		/* the last lines say why (a traceback's last line is the exception) */
		while (len > 0 && err[len - 1] == '\n')
			len--;
		size_t start = len;
		while (start > 0 && err[start - 1] != '\n')
			start--;
		set_error(&r->tf_error, -EIO, "TensorFlow in %s: python %s: %.*s", venv,
			  process_status_to_string(rc, buf, sizeof(buf)), (int)(len - start), err + start);
	}
	process_result_release(&res);
}

void gpu_check_collect(struct agent *a, struct gpu_report *r) {
	_cleanup_free_ char *rig_venv = NULL, *host = NULL;
	const char *env_venv = getenv("VIRTUAL_ENV");

	gpu_probe_nvml(r);
	gpu_probe_cuda(r);
	gpu_probe_cudnn(r);
	if (a->p && a->p->venv) {
		if (profile_rig_path(a->p, a->p->venv, &rig_venv) >= 0)
			host = agent_host_path(a, rig_venv + 1);
		gpu_probe_tensorflow(r, host, rig_venv);
	} else if (!a->p && env_venv && *env_venv)
		gpu_probe_tensorflow(r, env_venv, env_venv);
}

bool gpu_check_ok(const Profile *p, const struct gpu_report *r) {
	bool tf = !r->tf_present || r->tf_ok;

	if (!p)
		return r->nvml_ok && r->cuda_ok && r->cudnn_ok && tf;
	if ((p->gpu_driver || p->gpu_cuda) && !(r->nvml_ok && r->cuda_ok))
		return false;
	if (p->gpu_cudnn && !r->cudnn_ok)
		return false;
	/* a rig without a GPU stack asks nothing of TensorFlow's GPU list */
	return tf || !(p->gpu_driver || p->gpu_cuda);
}

static void print_gib(uint64_t bytes) {
	printf(", %.1f GiB", (double)bytes / (1024.0 * 1024 * 1024));
}

void gpu_report_print(const struct gpu_report *r, bool ok) {
	char v[32];

	if (r->nvml_ok) {
		gpu_cuda_version_string(r->nvml_cuda_version, v, sizeof(v));
		printf("NVML:        driver %s, CUDA %s, %u GPU%s\n", r->driver_version, v, r->n_nvml_gpus,
		       r->n_nvml_gpus == 1 ? "" : "s");
		for (unsigned i = 0; i < r->n_nvml_gpus; i++) {
			printf("  GPU %u:     %s", i, r->nvml_gpus[i].name);
			print_gib(r->nvml_gpus[i].memory);
			putchar('\n');
		}
	} else
		printf("NVML:        FAILED: %s\n", r->nvml_error ? r->nvml_error : "?");
	if (r->n_cuda_devices) {
		gpu_cuda_version_string(r->cuda_driver_version, v, sizeof(v));
		printf("CUDA:        driver API %s, %u device%s\n", v, r->n_cuda_devices, r->n_cuda_devices == 1 ? "" : "s");
		for (unsigned i = 0; i < r->n_cuda_devices; i++)
			printf("  device %u:  %s, compute capability %d.%d\n", i, r->cuda_devices[i].name,
			       r->cuda_devices[i].cc_major, r->cuda_devices[i].cc_minor);
	}
	if (r->saxpy_ran)
		printf("SAXPY:       %u floats, y = 2 * x + y on device 0\nMax error: %f\n", GPU_SAXPY_N,
		       r->saxpy_max_error);
	if (!r->cuda_ok)
		printf("CUDA:        FAILED: %s\n", r->cuda_error ? r->cuda_error : "?");
	if (r->cudnn_ok)
		printf("cuDNN:       %s (cudnnGetVersion %llu)\n", r->cudnn_version, (unsigned long long)r->cudnn_raw);
	else
		printf("cuDNN:       FAILED: %s\n", r->cudnn_error ? r->cudnn_error : "?");
	if (r->tf_present && r->tf_ok)
		printf("TensorFlow:  %s in %s, GPUs: %s\n", r->tf_version ? r->tf_version : "?", r->tf_venv, r->tf_gpus);
	else if (r->tf_error)
		printf("TensorFlow:  FAILED: %s\n", r->tf_error);
	else if (r->tf_venv)
		printf("TensorFlow:  not in %s\n", r->tf_venv);
	printf("gpu-check: %s\n", ok ? "ok" : "FAILED");
}

static void json_devices(JsonWriter *w, const struct gpu_device *d, unsigned n, bool cc) {
	char buf[16];

	json_array_begin(w);
	for (unsigned i = 0; i < n; i++) {
		json_object_begin(w);
		json_field_string(w, "name", d[i].name);
		json_field_uint(w, "memory_bytes", d[i].memory);
		if (cc) {
			snprintf(buf, sizeof(buf), "%d.%d", d[i].cc_major, d[i].cc_minor);
			json_field_string(w, "compute_capability", buf);
		}
		json_object_end(w);
	}
	json_array_end(w);
}

void gpu_report_json(JsonWriter *w, const struct gpu_report *r, bool ok) {
	char v[32];

	json_object_begin(w);
	json_field_bool(w, "ok", ok);
	json_key(w, "nvml");
	json_object_begin(w);
	json_field_bool(w, "ok", r->nvml_ok);
	json_field_string(w, "error", r->nvml_error);
	json_field_string(w, "driver_version", r->nvml_ok ? r->driver_version : NULL);
	gpu_cuda_version_string(r->nvml_cuda_version, v, sizeof(v));
	json_field_string(w, "cuda_version", r->nvml_cuda_version > 0 ? v : NULL);
	json_key(w, "gpus");
	json_devices(w, r->nvml_gpus, r->n_nvml_gpus, false);
	json_object_end(w);

	json_key(w, "cuda");
	json_object_begin(w);
	json_field_bool(w, "ok", r->cuda_ok);
	json_field_bool(w, "stub", r->cuda_stub);
	json_field_string(w, "error", r->cuda_error);
	json_field_string(w, "library", r->cuda_library);
	gpu_cuda_version_string(r->cuda_driver_version, v, sizeof(v));
	json_field_string(w, "driver_version", r->cuda_driver_version > 0 ? v : NULL);
	json_key(w, "devices");
	json_devices(w, r->cuda_devices, r->n_cuda_devices, true);
	json_key(w, "saxpy");
	if (r->saxpy_ran) {
		json_object_begin(w);
		json_field_uint(w, "n", GPU_SAXPY_N);
		json_key(w, "max_error");
		json_fixed(w, r->saxpy_max_error, 6);
		json_object_end(w);
	} else
		json_null(w);
	json_object_end(w);

	json_key(w, "cudnn");
	json_object_begin(w);
	json_field_bool(w, "ok", r->cudnn_ok);
	json_field_string(w, "error", r->cudnn_error);
	json_field_string(w, "version", r->cudnn_ok ? r->cudnn_version : NULL);
	json_object_end(w);

	json_key(w, "tensorflow");
	json_object_begin(w);
	json_field_string(w, "venv", r->tf_venv);
	json_field_bool(w, "present", r->tf_present);
	json_field_bool(w, "ok", r->tf_ok);
	json_field_string(w, "version", r->tf_version);
	json_field_string(w, "error", r->tf_error);
	json_key(w, "gpus");
	json_array_begin(w);
	for (const char *g = r->tf_gpus; g && *g;) {
		const char *end = strchrnul(g, '\n');
		_cleanup_free_ char *one = strndup(g, (size_t)(end - g));

		json_string(w, one);
		g = *end ? end + 1 : end;
	}
	json_array_end(w);
	json_object_end(w);
	json_object_end(w);
}
