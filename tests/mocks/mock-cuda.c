/* A stand-in libcuda.so.1 for gpu-check's tests: one device, and a
 * cuLaunchKernel that runs the saxpy(int n, float a, const float *x, float *y)
 * kernel on the CPU from the kernel parameters, over the grid it is given
 * (too small a grid leaves elements undone, as a GPU would). "Device" memory is
 * host memory. Built with -DSAXPY_OFF_BY_ONE it computes a * x + y + 1. */
#include <stdlib.h>
#include <string.h>

#ifndef SAXPY_OFF_BY_ONE
#define SAXPY_OFF_BY_ONE 0
#endif

static int initialised, context, module_loaded;
static int the_module, the_function;

int cuInit(unsigned flags) {
	initialised = flags == 0;
	return flags == 0 ? 0 : 1;
}
int cuDriverGetVersion(int *v) {
	*v = 11040;
	return 0;
}
int cuGetErrorName(int rc, const char **name) {
	*name = rc == 3 ? "CUDA_ERROR_NOT_INITIALIZED" : rc == 201 ? "CUDA_ERROR_INVALID_CONTEXT" :
		rc == 218 ? "CUDA_ERROR_INVALID_PTX" : "CUDA_ERROR_UNKNOWN";
	return 0;
}
int cuDeviceGetCount(int *n) {
	if (!initialised)
		return 3;
	*n = 1;
	return 0;
}
int cuDeviceGet(int *dev, int ordinal) {
	if (!initialised || ordinal != 0)
		return 3;
	*dev = 0;
	return 0;
}
int cuDeviceGetName(char *buf, int len, int dev) {
	const char *name = getenv("MOCK_GPU_NAME");
	strncpy(buf, name ? name : "Mock GeForce RTX 3090", (size_t)len - 1);
	buf[len - 1] = 0;
	return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int dev) {
	*v = attr == 75 ? 8 : attr == 76 ? 6 : 0;
	return 0;
}
int cuDeviceTotalMem_v2(size_t *bytes, int dev) {
	*bytes = 24ull << 30;
	return 0;
}
int cuCtxCreate_v2(void **ctx, unsigned flags, int dev) {
	if (!initialised)
		return 3;
	context = 1;
	*ctx = &context;
	return 0;
}
int cuCtxDestroy_v2(void *ctx) {
	context = 0;
	return 0;
}
int cuCtxSynchronize(void) {
	return context ? 0 : 201;
}
/* Accepts only PTX that declares the kernel: the text must reach the "driver". */
int cuModuleLoadData(void **mod, const void *image) {
	if (!context)
		return 201;
	if (!strstr(image, ".entry saxpy(") || !strstr(image, ".version"))
		return 218;
	module_loaded = 1;
	*mod = &the_module;
	return 0;
}
int cuModuleUnload(void *mod) {
	module_loaded = 0;
	return 0;
}
int cuModuleGetFunction(void **fn, void *mod, const char *name) {
	if (mod != &the_module || strcmp(name, "saxpy") != 0)
		return 500;
	*fn = &the_function;
	return 0;
}
int cuMemAlloc_v2(unsigned long long *p, size_t size) {
	void *m = context ? malloc(size) : NULL;
	if (!m)
		return 2;
	*p = (unsigned long long)(size_t)m;
	return 0;
}
int cuMemFree_v2(unsigned long long p) {
	free((void *)(size_t)p);
	return 0;
}
int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
	memcpy((void *)(size_t)dst, src, n);
	return 0;
}
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
	memcpy(dst, (void *)(size_t)src, n);
	return 0;
}
int cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		   unsigned shared, void *stream, void **params, void **extra) {
	if (fn != &the_function || !module_loaded || !params || extra)
		return 1;
	int n = *(int *)params[0];
	float a = *(float *)params[1];
	const float *x = (const float *)(size_t)*(unsigned long long *)params[2];
	float *y = (float *)(size_t)*(unsigned long long *)params[3];
	unsigned long long threads = (unsigned long long)gx * gy * gz * bx * by * bz;

	for (unsigned long long i = 0; i < threads && i < (unsigned long long)n; i++)
		y[i] = a * x[i] + y[i] + SAXPY_OFF_BY_ONE;
	return 0;
}
