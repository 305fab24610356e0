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

#include <sys/stat.h>

#include "tar-safety.h"

static int entry(const char *path, mode_t mode, const char *link) {
	enum tar_kind kind;
	char *norm = NULL, *reason = NULL;
	int r = tar_entry_check(path, mode, (mode & S_IFMT) == S_IFLNK ? link : NULL, NULL, &kind, &norm, &reason);

	free(norm);
	free(reason);
	return r;
}

TEST(tar_entry_rules) {
	enum tar_kind kind;
	char *norm = NULL, *reason = NULL;

	ASSERT_OK(tar_entry_check("./cuda//lib64/./libcudnn.so.8", S_IFREG | 0755, NULL, NULL, &kind, &norm, &reason));
	ASSERT_STREQ(norm, "cuda/lib64/libcudnn.so.8");
	ASSERT_EQ(kind, TAR_FILE);
	free(norm);
	ASSERT_OK(entry("cuda/lib64/libcudnn.so", S_IFLNK | 0777, "libcudnn.so.8"));
	ASSERT_OK(entry("cuda/lib64/x", S_IFLNK | 0777, "../include/cudnn.h"));
	ASSERT_EQ(entry("cuda/lib64/x", S_IFLNK | 0777, "../../etc/passwd"), -EPERM);
	ASSERT_EQ(entry("cuda/lib64/x", S_IFLNK | 0777, "/etc/passwd"), -EPERM);
	ASSERT_EQ(entry("cuda/x", S_IFLNK | 0777, "a/../../b"), -EPERM);
	ASSERT_EQ(entry("link", S_IFLNK | 0777, "cuda"), -EPERM); /* a top-level link points beside the tree */
	ASSERT_EQ(entry("/etc/passwd", S_IFREG | 0644, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/../x", S_IFREG | 0644, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/..", S_IFDIR | 0755, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/null", S_IFCHR | 0644, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/fifo", S_IFIFO | 0644, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/suid", S_IFREG | 04755, NULL), -EPERM);
	ASSERT_EQ(entry("cuda/sgid", S_IFDIR | 02755, NULL), -EPERM);
	ASSERT_OK(entry("cuda/..x", S_IFREG | 0644, NULL)); /* a name, not a component */
	ASSERT_EQ(tar_entry_check("cuda/h", S_IFREG | 0644, NULL, "../etc/shadow", &kind, NULL, &reason), -EPERM);
	ASSERT_CONTAINS(reason, "a hardlink");
	free(reason);
}

TEST(driver_branch) {
	ASSERT_EQ(profile_driver_branch("nvidia-driver-470"), 470);
	ASSERT_EQ(profile_driver_branch("nvidia-driver-535-server"), 535);
	ASSERT_EQ(profile_driver_branch("nvidia-driver-47"), 0);
	ASSERT_EQ(profile_driver_branch("nvidia-driver-470-foo"), 0);
	ASSERT_EQ(profile_driver_branch("libnvidia-compute-470"), 0);
}
