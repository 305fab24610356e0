/* gpu-check's driver half: NVML's view of the driver and the GPUs, and the
 * CUDA driver API running the guide's hello.cu SAXPY from embedded PTX. Both
 * libraries are loaded with dlopen(): a machine without the driver still runs
 * the check and is told what is missing. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlopen-util.h"
#include "error.h"
#include "gpu-check.h"

/* ---- NVML ---- */

typedef struct {
	unsigned long long total, free, used;
} nvml_memory;

static struct {
	int (*init)(void);
	int (*shutdown)(void);
	const char *(*error_string)(int);
	int (*driver_version)(char *, unsigned);
	int (*cuda_version)(int *);
	int (*count)(unsigned *);
	int (*handle)(unsigned, void **);
	int (*name)(void *, char *, unsigned);
	int (*memory)(void *, nvml_memory *);
} nvml;

#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_LIBRARY_NOT_FOUND 12

static const char *nvml_why(int rc) {
	static char buf[32];

	if (nvml.error_string)
		return nvml.error_string(rc);
	snprintf(buf, sizeof(buf), "NVML error %d", rc);
	return buf;
}

void gpu_probe_nvml(struct gpu_report *r) {
	static const char *const names[] = { "libnvidia-ml.so.1", NULL };
	const struct dlsym_entry syms[] = {
		{ "nvmlInit_v2", (void **)&nvml.init, false },
		{ "nvmlShutdown", (void **)&nvml.shutdown, false },
		{ "nvmlErrorString", (void **)&nvml.error_string, true },
		{ "nvmlSystemGetDriverVersion", (void **)&nvml.driver_version, false },
		{ "nvmlSystemGetCudaDriverVersion", (void **)&nvml.cuda_version, true },
		{ "nvmlDeviceGetCount_v2", (void **)&nvml.count, false },
		{ "nvmlDeviceGetHandleByIndex_v2", (void **)&nvml.handle, false },
		{ "nvmlDeviceGetName", (void **)&nvml.name, false },
		{ "nvmlDeviceGetMemoryInfo", (void **)&nvml.memory, false },
	};
	_cleanup_free_ char *error = NULL;
	unsigned count = 0;
	void *h = NULL;
	int rc;

	if (dlopen_resolve(names, syms, ELEMENTSOF(syms), &h, &error) < 0) {
		if (strstr(error, "cannot open"))
			set_error(&r->nvml_error, -ELIBACC,
				  "libnvidia-ml.so.1 not found: the NVIDIA driver is not installed "
				  "([GPU] Driver=auto, or install nvidia-driver-NNN)");
		else
			set_error(&r->nvml_error, -ELIBACC, "%s: the NVIDIA driver is incomplete or too old", error);
		return;
	}
	rc = nvml.init();
	if (rc != 0) {
		if (rc == NVML_ERROR_DRIVER_NOT_LOADED)
			set_error(&r->nvml_error, -ENODEV,
				  "nvmlInit: %s: the nvidia kernel module is not loaded (reboot after installing the "
				  "driver; with Secure Boot on, enrol its MOK key or use the signed linux-modules-nvidia "
				  "package)", nvml_why(rc));
		else
			set_error(&r->nvml_error, -ENODEV, "nvmlInit: %s", nvml_why(rc));
		dlclose(h);
		return;
	}
	rc = nvml.driver_version(r->driver_version, sizeof(r->driver_version));
	if (rc != 0)
		r->driver_version[0] = 0;
	if (nvml.cuda_version && nvml.cuda_version(&r->nvml_cuda_version) != 0)
		r->nvml_cuda_version = 0;
	rc = nvml.count(&count);
	if (rc != 0)
		set_error(&r->nvml_error, -ENODEV, "nvmlDeviceGetCount: %s", nvml_why(rc));
	else if (count == 0)
		set_error(&r->nvml_error, -ENODEV, "NVML sees no NVIDIA GPU (is the card seated and powered?)");
	for (unsigned i = 0; rc == 0 && i < count && i < GPU_MAX_DEVICES; i++) {
		struct gpu_device *d = &r->nvml_gpus[r->n_nvml_gpus];
		nvml_memory mem = {};
		void *dev = NULL;

		if (nvml.handle(i, &dev) != 0)
			continue;
		if (nvml.name(dev, d->name, sizeof(d->name)) != 0)
			snprintf(d->name, sizeof(d->name), "GPU %u", i);
		d->name[sizeof(d->name) - 1] = 0;
		if (nvml.memory(dev, &mem) == 0)
			d->memory = mem.total;
		r->n_nvml_gpus++;
	}
	r->nvml_ok = rc == 0 && count > 0;
	(void)nvml.shutdown();
	dlclose(h);
}

/* ---- the CUDA driver API ---- */

typedef unsigned long long cu_ptr;

static struct {
	int (*init)(unsigned);
	int (*driver_version)(int *);
	int (*error_name)(int, const char **);
	int (*count)(int *);
	int (*get)(int *, int);
	int (*name)(char *, int, int);
	int (*attribute)(int *, int, int);
	int (*total_mem)(size_t *, int);
	int (*ctx_create)(void **, unsigned, int);
	int (*ctx_destroy)(void *);
	int (*ctx_sync)(void);
	int (*module_load)(void **, const void *);
	int (*module_unload)(void *);
	int (*function)(void **, void *, const char *);
	int (*mem_alloc)(cu_ptr *, size_t);
	int (*mem_free)(cu_ptr);
	int (*htod)(cu_ptr, const void *, size_t);
	int (*dtoh)(void *, cu_ptr, size_t);
	int (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **,
		      void **);
} cu;

#define CUDA_ERROR_STUB_LIBRARY 34
#define CUDA_ERROR_NO_DEVICE 100
#define CU_ATTR_CC_MAJOR 75
#define CU_ATTR_CC_MINOR 76

/* hello.cu's kernel, y[i] = a * x[i] + y[i], as PTX the driver JIT-compiles for
 * whatever GPU it has (compute_50 and later; PTX ISA 6.0 is CUDA 9's). */
static const char saxpy_ptx[] =
	".version 6.0\n"
	".target sm_50\n"
	".address_size 64\n"
	"\n"
	".visible .entry saxpy(\n"
	"\t.param .u32 saxpy_n,\n"
	"\t.param .f32 saxpy_a,\n"
	"\t.param .u64 saxpy_x,\n"
	"\t.param .u64 saxpy_y\n"
	")\n"
	"{\n"
	"\t.reg .pred %p<2>;\n"
	"\t.reg .f32 %f<5>;\n"
	"\t.reg .b32 %r<6>;\n"
	"\t.reg .b64 %rd<8>;\n"
	"\n"
	"\tld.param.u32 %r2, [saxpy_n];\n"
	"\tld.param.f32 %f1, [saxpy_a];\n"
	"\tld.param.u64 %rd1, [saxpy_x];\n"
	"\tld.param.u64 %rd2, [saxpy_y];\n"
	"\tmov.u32 %r3, %ctaid.x;\n"
	"\tmov.u32 %r4, %ntid.x;\n"
	"\tmov.u32 %r5, %tid.x;\n"
	"\tmad.lo.s32 %r1, %r3, %r4, %r5;\n"
	"\tsetp.ge.s32 %p1, %r1, %r2;\n"
	"\t@%p1 bra DONE;\n"
	"\tcvta.to.global.u64 %rd3, %rd1;\n"
	"\tcvta.to.global.u64 %rd4, %rd2;\n"
	"\tmul.wide.s32 %rd5, %r1, 4;\n"
	"\tadd.s64 %rd6, %rd3, %rd5;\n"
	"\tadd.s64 %rd7, %rd4, %rd5;\n"
	"\tld.global.f32 %f2, [%rd6];\n"
	"\tld.global.f32 %f3, [%rd7];\n"
	"\tfma.rn.f32 %f4, %f2, %f1, %f3;\n"
	"\tst.global.f32 [%rd7], %f4;\n"
	"DONE:\n"
	"\tret;\n"
	"}\n";

const char *gpu_saxpy_ptx(void) {
	return saxpy_ptx;
}

static const char *cu_why(int rc, char *buf, size_t size) {
	const char *name = NULL;

	if (cu.error_name && cu.error_name(rc, &name) == 0 && name)
		snprintf(buf, size, "%s (%d)", name, rc);
	else
		snprintf(buf, size, "CUDA error %d", rc);
	return buf;
}

/* The path the loader took libcuda from: a toolkit stub lives in .../stubs/. */
static char *loaded_path(void *h) {
	struct link_map *map = NULL;

	if (dlinfo(h, RTLD_DI_LINKMAP, &map) < 0 || !map || !map->l_name || !map->l_name[0])
		return NULL;
	return strdup(map->l_name);
}

/* The toolkit's stub where one usually is: named in the "not found" message, as the issue asks. */
static const char *find_stub(void) {
	static const char *const stubs[] = {
		"/usr/local/cuda/lib64/stubs/libcuda.so", "/usr/local/cuda/lib/stubs/libcuda.so",
		"/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so",
	};
	for (size_t i = 0; i < ELEMENTSOF(stubs); i++)
		if (access(stubs[i], F_OK) == 0)
			return stubs[i];
	return NULL;
}

/* The SAXPY itself on device 0 of a current context. */
static int run_saxpy(struct gpu_report *r) {
	const unsigned n = GPU_SAXPY_N, block = 256;
	_cleanup_free_ float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	void *module = NULL, *fn = NULL;
	cu_ptr dx = 0, dy = 0;
	float a = 2.0f, max_error = 0;
	int nn = (int)n, rc;
	char why[80];

	if (!x || !y)
		return set_error(&r->cuda_error, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < n; i++)
		x[i] = 1.0f, y[i] = 2.0f;
	if ((rc = cu.module_load(&module, saxpy_ptx)) != 0)
		return set_error(&r->cuda_error, -EIO, "cuModuleLoadData (the SAXPY's PTX): %s",
				 cu_why(rc, why, sizeof(why)));
	if ((rc = cu.function(&fn, module, "saxpy")) != 0) {
		set_error(&r->cuda_error, -EIO, "cuModuleGetFunction saxpy: %s", cu_why(rc, why, sizeof(why)));
		goto out;
	}
	if ((rc = cu.mem_alloc(&dx, n * sizeof(float))) != 0 || (rc = cu.mem_alloc(&dy, n * sizeof(float))) != 0) {
		set_error(&r->cuda_error, -ENOMEM, "cuMemAlloc (2 x %u floats): %s", n, cu_why(rc, why, sizeof(why)));
		goto out;
	}
	if ((rc = cu.htod(dx, x, n * sizeof(float))) != 0 || (rc = cu.htod(dy, y, n * sizeof(float))) != 0) {
		set_error(&r->cuda_error, -EIO, "cuMemcpyHtoD: %s", cu_why(rc, why, sizeof(why)));
		goto out;
	}
	{
		void *params[] = { &nn, &a, &dx, &dy };

		rc = cu.launch(fn, (n + block - 1) / block, 1, 1, block, 1, 1, 0, NULL, params, NULL);
	}
	if (rc == 0 && cu.ctx_sync)
		rc = cu.ctx_sync();
	if (rc != 0) {
		set_error(&r->cuda_error, -EIO, "cuLaunchKernel saxpy: %s", cu_why(rc, why, sizeof(why)));
		goto out;
	}
	if ((rc = cu.dtoh(y, dy, n * sizeof(float))) != 0) {
		set_error(&r->cuda_error, -EIO, "cuMemcpyDtoH: %s", cu_why(rc, why, sizeof(why)));
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		float e = y[i] > 4.0f ? y[i] - 4.0f : 4.0f - y[i]; /* no libm: the agent links libc alone */

		if (e > max_error || e != e)
			max_error = e;
	}
	r->saxpy_ran = true;
	r->saxpy_max_error = max_error;
	if (max_error != 0)
		set_error(&r->cuda_error, -EIO, "the SAXPY's result is wrong (max error %f): the GPU or its driver "
			  "computes wrongly", max_error);
	else
		r->cuda_ok = true;
out:
	if (dx)
		(void)cu.mem_free(dx);
	if (dy)
		(void)cu.mem_free(dy);
	(void)cu.module_unload(module);
	return r->cuda_ok ? 0 : -EIO;
}

static void probe_devices(struct gpu_report *r, int count) {
	for (int i = 0; i < count && i < GPU_MAX_DEVICES; i++) {
		struct gpu_device *d = &r->cuda_devices[r->n_cuda_devices];
		size_t mem = 0;
		int dev = 0;

		if (cu.get(&dev, i) != 0)
			continue;
		if (cu.name(d->name, sizeof(d->name), dev) != 0)
			snprintf(d->name, sizeof(d->name), "device %d", i);
		d->name[sizeof(d->name) - 1] = 0;
		(void)cu.attribute(&d->cc_major, CU_ATTR_CC_MAJOR, dev);
		(void)cu.attribute(&d->cc_minor, CU_ATTR_CC_MINOR, dev);
		if (cu.total_mem && cu.total_mem(&mem, dev) == 0)
			d->memory = mem;
		r->n_cuda_devices++;
	}
}

static void cuda_in_library(struct gpu_report *r) {
	void *ctx = NULL;
	int count = 0, dev = 0, rc;
	char why[80];

	rc = cu.init(0);
	if (rc == CUDA_ERROR_STUB_LIBRARY || (r->cuda_library && strstr(r->cuda_library, "/stubs/"))) {
		r->cuda_stub = true;
		set_error(&r->cuda_error, -ENODEV,
			  "%s is the CUDA toolkit's stub, not a driver: the NVIDIA driver is not installed",
			  r->cuda_library ? r->cuda_library : "libcuda.so.1");
		return;
	}
	if (rc != 0) {
		set_error(&r->cuda_error, -ENODEV, "cuInit: %s%s", cu_why(rc, why, sizeof(why)),
			  rc == CUDA_ERROR_NO_DEVICE ? ": the driver sees no NVIDIA GPU" : "");
		return;
	}
	(void)cu.driver_version(&r->cuda_driver_version);
	if ((rc = cu.count(&count)) != 0 || count <= 0) {
		set_error(&r->cuda_error, -ENODEV, "cuDeviceGetCount: %s", rc ? cu_why(rc, why, sizeof(why)) : "no device");
		return;
	}
	probe_devices(r, count);
	if ((rc = cu.get(&dev, 0)) != 0 || (rc = cu.ctx_create(&ctx, 0, dev)) != 0) {
		set_error(&r->cuda_error, -EIO, "cuCtxCreate on device 0: %s", cu_why(rc, why, sizeof(why)));
		return;
	}
	(void)run_saxpy(r);
	(void)cu.ctx_destroy(ctx);
}

void gpu_probe_cuda(struct gpu_report *r) {
	static const char *const names[] = { "libcuda.so.1", NULL };
	const struct dlsym_entry syms[] = {
		{ "cuInit", (void **)&cu.init, false },
		{ "cuDriverGetVersion", (void **)&cu.driver_version, false },
		{ "cuGetErrorName", (void **)&cu.error_name, true },
		{ "cuDeviceGetCount", (void **)&cu.count, false },
		{ "cuDeviceGet", (void **)&cu.get, false },
		{ "cuDeviceGetName", (void **)&cu.name, false },
		{ "cuDeviceGetAttribute", (void **)&cu.attribute, false },
		{ "cuDeviceTotalMem_v2", (void **)&cu.total_mem, true },
		{ "cuCtxCreate_v2", (void **)&cu.ctx_create, false },
		{ "cuCtxDestroy_v2", (void **)&cu.ctx_destroy, false },
		{ "cuCtxSynchronize", (void **)&cu.ctx_sync, true },
		{ "cuModuleLoadData", (void **)&cu.module_load, false },
		{ "cuModuleUnload", (void **)&cu.module_unload, false },
		{ "cuModuleGetFunction", (void **)&cu.function, false },
		{ "cuMemAlloc_v2", (void **)&cu.mem_alloc, false },
		{ "cuMemFree_v2", (void **)&cu.mem_free, false },
		{ "cuMemcpyHtoD_v2", (void **)&cu.htod, false },
		{ "cuMemcpyDtoH_v2", (void **)&cu.dtoh, false },
		{ "cuLaunchKernel", (void **)&cu.launch, false },
	};
	_cleanup_free_ char *error = NULL;
	void *h = NULL;

	if (dlopen_resolve(names, syms, ELEMENTSOF(syms), &h, &error) < 0) {
		const char *stub = find_stub();

		if (!strstr(error, "cannot open"))
			set_error(&r->cuda_error, -ELIBACC, "%s: the NVIDIA driver is incomplete or too old", error);
		else if (stub && (r->cuda_stub = true))
			set_error(&r->cuda_error, -ELIBACC,
				  "libcuda.so.1 not found: the NVIDIA driver is not installed (%s is only the CUDA "
				  "toolkit's link-time stub)", stub);
		else
			set_error(&r->cuda_error, -ELIBACC, "libcuda.so.1 not found: the NVIDIA driver is not installed");
		return;
	}
	r->cuda_library = loaded_path(h);
	cuda_in_library(r);
	/* not dlclose()d: a real driver's threads may outlive the context */
}
