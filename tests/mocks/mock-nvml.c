/* A stand-in libnvidia-ml.so.1 for gpu-check's tests: one GPU, a driver
 * version; MOCK_GPU_NAME overrides the name so a test can find its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;

static int initialised;

int nvmlInit_v2(void) {
	initialised = 1;
	return 0;
}
int nvmlShutdown(void) {
	initialised = 0;
	return 0;
}
const char *nvmlErrorString(int rc) {
	return rc == 1 ? "Uninitialized" : "Unknown Error";
}
int nvmlSystemGetDriverVersion(char *buf, unsigned len) {
	if (!initialised)
		return 1;
	snprintf(buf, len, "%s", "470.199.02");
	return 0;
}
int nvmlSystemGetCudaDriverVersion(int *v) {
	*v = 11040;
	return 0;
}
int nvmlDeviceGetCount_v2(unsigned *n) {
	if (!initialised)
		return 1;
	*n = 1;
	return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **dev) {
	static int the_gpu;
	if (i != 0)
		return 2;
	*dev = &the_gpu;
	return 0;
}
int nvmlDeviceGetName(void *dev, char *buf, unsigned len) {
	const char *name = getenv("MOCK_GPU_NAME");
	snprintf(buf, len, "%s", name ? name : "Mock GeForce RTX 3090");
	return 0;
}
int nvmlDeviceGetMemoryInfo(void *dev, nvmlMemory_t *m) {
	m->total = 24ull << 30;
	m->free = m->total - (300ull << 20);
	m->used = 300ull << 20;
	return 0;
}
