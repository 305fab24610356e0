/* gpu-check's pieces that need no library: version decoding and the verdict. */
#include "gpu-check.h"
#include "test.h"

TEST(cudnn_version_8_and_9) {
	char v[32];

	gpu_cudnn_version_string(8907, v, sizeof(v));
	ASSERT_STREQ(v, "8.9.7");
	gpu_cudnn_version_string(8100, v, sizeof(v));
	ASSERT_STREQ(v, "8.1.0");
	gpu_cudnn_version_string(8201, v, sizeof(v));
	ASSERT_STREQ(v, "8.2.1");
	gpu_cudnn_version_string(90100, v, sizeof(v));
	ASSERT_STREQ(v, "9.1.0");
	gpu_cudnn_version_string(91900, v, sizeof(v));
	ASSERT_STREQ(v, "9.19.0");
	gpu_cudnn_version_string(90002, v, sizeof(v));
	ASSERT_STREQ(v, "9.0.2");
}

TEST(cuda_version) {
	char v[32];

	gpu_cuda_version_string(11040, v, sizeof(v));
	ASSERT_STREQ(v, "11.4");
	gpu_cuda_version_string(12020, v, sizeof(v));
	ASSERT_STREQ(v, "12.2");
	gpu_cuda_version_string(0, v, sizeof(v));
	ASSERT_STREQ(v, "?");
}

TEST(verdict) {
	struct gpu_report r = { .nvml_ok = true, .cuda_ok = true, .cudnn_ok = false };
	Profile p = {};

	ASSERT_TRUE(!gpu_check_ok(NULL, &r)); /* not a rig: cuDNN is part of it */
	ASSERT_TRUE(gpu_check_ok(&p, &r));    /* a rig asking for nothing */
	p.gpu_driver = (char *)"nvidia-driver-470";
	ASSERT_TRUE(gpu_check_ok(&p, &r));
	p.gpu_cudnn = (char *)"cudnn.tgz";
	ASSERT_TRUE(!gpu_check_ok(&p, &r));
	r.cudnn_ok = true;
	ASSERT_TRUE(gpu_check_ok(NULL, &r));
	r.tf_present = true; /* TensorFlow that lists no GPU fails it */
	ASSERT_TRUE(!gpu_check_ok(&p, &r));
	r.cuda_ok = false, r.tf_present = false;
	ASSERT_TRUE(!gpu_check_ok(&p, &r));
}
