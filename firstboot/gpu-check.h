/* gpu-check: is the GPU stack usable? NVML, the CUDA driver API running the
 * guide's SAXPY from embedded PTX, cuDNN and the venv's TensorFlow, each loaded
 * at run time (dlopen) so the check runs on any Linux machine, rig or not. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "json.h"

#define GPU_MAX_DEVICES 16
#define GPU_SAXPY_N (1u << 20)

struct gpu_device {
	char name[96];
	uint64_t memory; /* bytes */
	int cc_major, cc_minor; /* CUDA only */
};

struct gpu_report {
	/* NVML (libnvidia-ml.so.1) */
	bool nvml_ok;
	char *nvml_error;
	char driver_version[80];
	int nvml_cuda_version;           /* 11040 for 11.4, 0 when not known */
	struct gpu_device nvml_gpus[GPU_MAX_DEVICES];
	unsigned n_nvml_gpus;
	/* the CUDA driver API (libcuda.so.1) and the SAXPY */
	bool cuda_ok;                    /* the SAXPY ran and its result is right */
	bool cuda_stub;                  /* the toolkit's link-time stub, not a driver */
	char *cuda_error;
	char *cuda_library;              /* the file that was loaded */
	int cuda_driver_version;
	struct gpu_device cuda_devices[GPU_MAX_DEVICES];
	unsigned n_cuda_devices;
	bool saxpy_ran;
	double saxpy_max_error;
	/* cuDNN */
	bool cudnn_ok;
	char *cudnn_error;
	uint64_t cudnn_raw;              /* cudnnGetVersion() */
	char cudnn_version[32];          /* "8.9.7" */
	/* TensorFlow in the venv: only looked at when the venv exists */
	char *tf_venv;                   /* the venv's path as the rig sees it, or NULL */
	bool tf_present, tf_ok;          /* present: tensorflow imports; ok: it lists a GPU */
	char *tf_version;
	char *tf_gpus;                   /* the devices it lists, one a line */
	char *tf_error;
};

void gpu_report_release(struct gpu_report *r);

/* "8.9.7" from cudnnGetVersion(): 8.x is major*1000 + minor*100 + patch,
 * 9.x and later major*10000 + minor*100 + patch. */
void gpu_cudnn_version_string(uint64_t raw, char *buf, size_t size);
/* "11.4" from the CUDA driver's 11040. */
void gpu_cuda_version_string(int v, char *buf, size_t size);

/* The SAXPY kernel as PTX (for tests: ptxas must accept it). */
const char *gpu_saxpy_ptx(void);

/* Each part; none fails the caller: what is wrong goes into the report's *_error. */
void gpu_probe_nvml(struct gpu_report *r);
void gpu_probe_cuda(struct gpu_report *r);
void gpu_probe_cudnn(struct gpu_report *r);
/* venv_host: where to run VENV/bin/python on this machine; venv: its name on the rig (for messages). */
void gpu_probe_tensorflow(struct gpu_report *r, const char *venv_host, const char *venv);

/* Everything, the venv taken from the agent's profile when a->p is set, else
 * $VIRTUAL_ENV. */
void gpu_check_collect(struct agent *a, struct gpu_report *r);
/* The verdict: with a profile (a rig) what it asks for works; without one
 * NVML, the SAXPY and cuDNN all work. */
bool gpu_check_ok(const Profile *p, const struct gpu_report *r);
void gpu_report_print(const struct gpu_report *r, bool ok);
void gpu_report_json(JsonWriter *w, const struct gpu_report *r, bool ok);
