/* A stand-in libcudnn.so.8 for gpu-check's tests: cuDNN 8.9.7's version number
 * (8.x encodes major * 1000 + minor * 100 + patch). */
#include <stddef.h>

#ifndef MOCK_CUDNN_VERSION
#define MOCK_CUDNN_VERSION 8907
#endif

size_t cudnnGetVersion(void) {
	return MOCK_CUDNN_VERSION;
}
