/* Fetching: known Ubuntu media names, SHA256SUMS lookup, NAME.part resumed with Range, sha256 before the rename, retries. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "process.h"
#include "progress.h"

static const struct fetch_known known[] = {
	{ "ubuntu-20.04-live-server", "https://releases.ubuntu.com", "/20.04/", "ubuntu-20.04", "-live-server-amd64.iso" },
	{ "ubuntu-20.04-desktop", "https://releases.ubuntu.com", "/20.04/", "ubuntu-20.04", "-desktop-amd64.iso" },
	{ "ubuntu-20.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/focal/release/",
	  "ubuntu-20.04-server-cloudimg-amd64-root.tar.xz", "" },
	{ "ubuntu-22.04-live-server", "https://releases.ubuntu.com", "/22.04/", "ubuntu-22.04", "-live-server-amd64.iso" },
	{ "ubuntu-22.04-desktop", "https://releases.ubuntu.com", "/22.04/", "ubuntu-22.04", "-desktop-amd64.iso" },
	{ "ubuntu-22.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/jammy/release/",
	  "ubuntu-22.04-server-cloudimg-amd64-root.tar.xz", "" },
	{ "ubuntu-24.04-live-server", "https://releases.ubuntu.com", "/24.04/", "ubuntu-24.04", "-live-server-amd64.iso" },
	{ "ubuntu-24.04-desktop", "https://releases.ubuntu.com", "/24.04/", "ubuntu-24.04", "-desktop-amd64.iso" },
	{ "ubuntu-24.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/noble/release/",
	  "ubuntu-24.04-server-cloudimg-amd64-root.tar.xz", "" },
};

const struct fetch_known *fetch_known_lookup(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strcmp(known[i].name, name) == 0)
			return &known[i];
	return NULL;
}

const struct fetch_known *fetch_known_list(size_t *ret_n) {
	*ret_n = ELEMENTSOF(known);
	return known;
}

int fetch_known_dir_url(const struct fetch_known *k, const char *mirror, char **ret) {
	const char *host = mirror && *mirror ? mirror : k->host;
	size_t len = strlen(host);

	while (len > 0 && host[len - 1] == '/')
		len--;
	if (asprintf(ret, "%.*s%s", (int)len, host, k->dir) < 0)
		return -ENOMEM;
	return 0;
}

int fetch_url_basename(const char *url, char **ret) {
	const char *p = strstr(url, "://"), *slash;
	size_t end;
	char *name;

	p = p ? p + 3 : url;
	end = strcspn(p, "?#");
	slash = memrchr(p, '/', end);
	if (!slash)
		return -EINVAL; /* "http://host" names no file */
	name = strndup(slash + 1, end - (size_t)(slash + 1 - p));
	if (!name)
		return -ENOMEM;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '%')) {
		/* percent-escapes would need decoding into a local name: not for release media */
		free(name);
		return -EINVAL;
	}
	*ret = name;
	return 0;
}

int fetch_parse_sha256(const char *s, char ret_hex[65]) {
	char hex[65];

	if (strlen(s) != 64)
		return -EINVAL;
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		hex[i] = (char)tolower((unsigned char)s[i]);
	}
	hex[64] = 0;
	memcpy(ret_hex, hex, 65);
	return 0;
}

/* Calls fn for each "HEX *name" line; stops when fn returns non-zero. */
static int sums_foreach(const char *sums, int (*fn)(const char *name, size_t name_len, const char *hex, void *u),
			void *u) {
	for (const char *l = sums; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n"), name_len;
		const char *name;
		char hexbuf[65], hex[65];
		int r;

		if (len < 66 || (l[64] != ' ' && l[64] != '\t'))
			continue;
		memcpy(hexbuf, l, 64);
		hexbuf[64] = 0;
		if (fetch_parse_sha256(hexbuf, hex) < 0)
			continue;
		name = l + 65;
		if (*name == '*' || *name == ' ')
			name++; /* binary / text mode marker */
		name_len = len - (size_t)(name - l);
		while (name_len > 0 && (name[name_len - 1] == '\r' || name[name_len - 1] == ' '))
			name_len--;
		if (name_len >= 2 && strncmp(name, "./", 2) == 0)
			name += 2, name_len -= 2;
		r = fn(name, name_len, hex, u);
		if (r != 0)
			return r;
	}
	return 0;
}

struct find_exact {
	const char *filename;
	char *hex;
};

static int find_exact_cb(const char *name, size_t name_len, const char *hex, void *u) {
	struct find_exact *f = u;

	if (name_len != strlen(f->filename) || strncmp(name, f->filename, name_len) != 0)
		return 0;
	memcpy(f->hex, hex, 65);
	return 1;
}

int fetch_sums_find(const char *sums, const char *filename, char ret_hex[65]) {
	char hex[65];
	struct find_exact f = { filename, hex };

	if (sums_foreach(sums, find_exact_cb, &f) <= 0)
		return -ENOENT;
	memcpy(ret_hex, hex, 65);
	return 0;
}

struct find_release {
	const char *prefix, *suffix;
	char *name;
	char hex[65];
	long best; /* -1: the unnumbered name, else the point release; -2 nothing yet */
};

static int find_release_cb(const char *name, size_t name_len, const char *hex, void *u) {
	struct find_release *f = u;
	size_t pl = strlen(f->prefix), sl = strlen(f->suffix);
	long n = -1;

	if (name_len < pl + sl || strncmp(name, f->prefix, pl) != 0 ||
	    strncmp(name + name_len - sl, f->suffix, sl) != 0)
		return 0;
	if (name_len > pl + sl) {
		/* exactly ".N" between prefix and suffix */
		const char *m = name + pl, *e = name + name_len - sl;

		if (*m != '.' || e - m < 2 || e - m > 6)
			return 0;
		n = 0;
		for (const char *c = m + 1; c < e; c++) {
			if (!isdigit((unsigned char)*c))
				return 0;
			n = n * 10 + (*c - '0');
		}
	}
	if (n > f->best) {
		char *copy = strndup(name, name_len);
		if (!copy)
			return -ENOMEM;
		free(f->name);
		f->name = copy;
		memcpy(f->hex, hex, 65);
		f->best = n;
	}
	return 0;
}

int fetch_sums_find_release(const char *sums, const char *prefix, const char *suffix, char **ret_name,
			    char ret_hex[65]) {
	struct find_release f = { .prefix = prefix, .suffix = suffix, .best = -2 };
	int r = sums_foreach(sums, find_release_cb, &f);

	if (r < 0) {
		free(f.name);
		return r;
	}
	if (!f.name)
		return -ENOENT;
	*ret_name = f.name;
	memcpy(ret_hex, f.hex, 65);
	return 0;
}

int fetch_resume_decide(uint64_t have, const struct curl_response *resp, enum fetch_resume *ret) {
	if (resp->status == 200) {
		/* no Range asked, or the server ignores Range: the body is the whole file */
		*ret = have > 0 ? FETCH_RESTART : FETCH_APPEND;
		return 0;
	}
	if (resp->status == 206 && resp->has_range) {
		if (resp->range_start == have) {
			*ret = FETCH_APPEND;
			return 0;
		}
		if (resp->range_start == 0) {
			*ret = FETCH_RESTART;
			return 0;
		}
	}
	return -EILSEQ; /* a range we did not ask for: do not glue it onto the file */
}

/* ---- hashing behind the writer ----
 * The file is hashed by a second thread that reads what was written back from the
 * page cache, so the sha256 costs no time on a download of several GiB. */

struct hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, finish;
	int fd;
	uint64_t hashed, available, synced;
	int error;
	EVP_MD_CTX *ctx;
};

static void *hasher_main(void *userdata) {
	struct hasher *h = userdata;
	uint8_t *buf = malloc(MiB);
	int r = buf ? 0 : -ENOMEM;

	while (r >= 0) {
		uint64_t avail;
		bool fin;
		size_t got;

		pthread_mutex_lock(&h->lock);
		while (h->hashed == h->available && !h->finish)
			pthread_cond_wait(&h->cond, &h->lock);
		avail = h->available;
		fin = h->finish;
		pthread_mutex_unlock(&h->lock);
		if (h->hashed == avail) {
			if (fin)
				break;
			continue;
		}
		r = loop_pread(h->fd, buf, (size_t)MIN(avail - h->hashed, MiB), h->hashed, &got);
		if (r >= 0 && got == 0)
			r = -EIO;
		if (r < 0)
			break;
		if (EVP_DigestUpdate(h->ctx, buf, got) != 1) {
			r = -EIO;
			break;
		}
		pthread_mutex_lock(&h->lock);
		h->hashed += got;
		pthread_mutex_unlock(&h->lock);
		/* start write-back early, so the fsync before the rename has little left to do */
		if (h->hashed - h->synced >= 32 * MiB) {
			(void)sync_file_range(h->fd, (off_t)h->synced, (off_t)(h->hashed - h->synced),
					      SYNC_FILE_RANGE_WRITE);
			h->synced = h->hashed;
		}
	}
	free(buf);
	pthread_mutex_lock(&h->lock);
	h->error = r;
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int hasher_start(struct hasher *h, int fd, uint64_t available) {
	int r;

	*h = (struct hasher){ .fd = fd, .available = available };
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	r = -pthread_create(&h->thread, NULL, hasher_main, h);
	if (r < 0) {
		EVP_MD_CTX_free(h->ctx);
		return r;
	}
	h->running = true;
	return 0;
}

static void hasher_advance(struct hasher *h, uint64_t available) {
	pthread_mutex_lock(&h->lock);
	h->available = available;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Waits for the thread; with ret_hex, the digest of everything made available. */
static int hasher_stop(struct hasher *h, char ret_hex[65]) {
	uint8_t md[32];
	unsigned len = 32;
	int r;

	if (!h->running)
		return -ESRCH;
	pthread_mutex_lock(&h->lock);
	h->finish = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	h->running = false;
	r = h->error;
	if (r >= 0 && ret_hex) {
		if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1)
			r = -EIO;
		else {
			for (size_t i = 0; i < 32; i++)
				snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
		}
	}
	EVP_MD_CTX_free(h->ctx);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	return r;
}

/* ---- one download into NAME.part ---- */

#define WRITE_BUFFER_SIZE MiB

struct download {
	const char *part;
	int fd;
	uint64_t have;     /* bytes on disk */
	uint8_t *buf;      /* written in 1 MiB pieces: fewer syscalls than libcurl's 16 KiB callbacks */
	size_t fill;
	uint64_t total;    /* expected size, 0 when unknown */
	struct hasher hasher;
	struct progress prog;
};

static int download_flush(struct download *d) {
	int r;

	if (d->fill == 0)
		return 0;
	r = loop_pwrite(d->fd, d->buf, d->fill, d->have);
	if (r < 0)
		return r;
	d->have += d->fill;
	d->fill = 0;
	hasher_advance(&d->hasher, d->have);
	return 0;
}

static int download_on_response(void *userdata, const struct curl_response *resp) {
	struct download *d = userdata;
	enum fetch_resume action;
	int r;

	r = fetch_resume_decide(d->have, resp, &action);
	if (r < 0)
		return -EILSEQ; /* said by log_transfer_error() */
	if (action == FETCH_RESTART) {
		log_info("The server does not resume downloads; starting %s over.", d->part);
		(void)hasher_stop(&d->hasher, NULL);
		if (ftruncate(d->fd, 0) < 0)
			return negative_errno();
		d->have = 0;
		r = hasher_start(&d->hasher, d->fd, 0);
		if (r < 0)
			return r;
	}
	if (resp->has_range && resp->range_total != UINT64_MAX)
		d->total = resp->range_total;
	else if (resp->length != UINT64_MAX)
		d->total = d->have + resp->length;
	return 0;
}

static int download_on_data(void *userdata, const void *data, size_t size) {
	struct download *d = userdata;
	const uint8_t *p = data;

	while (size > 0) {
		size_t k = MIN(size, WRITE_BUFFER_SIZE - d->fill);

		memcpy(d->buf + d->fill, p, k);
		d->fill += k;
		p += k;
		size -= k;
		if (d->fill == WRITE_BUFFER_SIZE) {
			int r = download_flush(d);
			if (r < 0)
				return r;
		}
	}
	progress_update(&d->prog, d->have + d->fill, d->total);
	return 0;
}

static void pause_ms(unsigned ms) {
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L }, NULL);
}

static const char *transfer_error_to_string(int r) {
	if (r == -EILSEQ)
		return "the server sent another part of the file than the one asked for; not appending it";
	return curl_util_error_to_string(r);
}

static int log_transfer_error(int r, const char *url, const char *detail) {
	return log_error_errno(r, "Failed to fetch %s: %s%s%s%s", url, transfer_error_to_string(r), detail ? " (" : "",
			       detail ? detail : "", detail ? ")" : "");
}

/* Runs get() until it succeeds, fails for good, or the tries are used up; pauses double each time. */
static int with_retries(const char *url, const struct fetch_options *opts, int (*get)(void *u, char **detail),
			uint64_t (*progress_of)(void *u), void *u) {
	unsigned delay = opts->backoff_ms, failures = 0;

	for (;;) {
		_cleanup_free_ char *detail = NULL;
		uint64_t before = progress_of ? progress_of(u) : 0;
		int r = get(u, &detail);

		if (r >= 0 || !curl_util_error_is_transient(r))
			return r < 0 && r != -ERANGE ? log_transfer_error(r, url, detail) : r;
		/* a try that made progress does not count against the limit */
		if (progress_of && progress_of(u) > before) {
			failures = 0;
			delay = opts->backoff_ms;
		}
		if (failures++ >= opts->retries)
			return log_transfer_error(r, url, detail);
		log_warning("Fetching %s: %s%s%s%s; trying again in %.1f s.", url, transfer_error_to_string(r),
			    detail ? " (" : "", detail ? detail : "", detail ? ")" : "", delay / 1000.0);
		pause_ms(delay);
		delay = MIN(delay * 2, 60000u);
	}
}

struct file_get {
	const char *url;
	struct download *d;
};

static int file_get(void *u, char **detail) {
	struct file_get *g = u;
	static const struct curl_transfer_ops ops = { download_on_response, download_on_data };
	int r, k;

	r = curl_util_get(g->url, g->d->have, &ops, g->d, detail);
	k = download_flush(g->d); /* what arrived before a dropped connection is kept for the next try */
	return r < 0 ? r : k;
}

static uint64_t file_progress(void *u) {
	return ((struct file_get *)u)->d->have;
}

static int hash_existing(const char *path, char ret_hex[65]) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct hasher h;
	struct stat st;
	int r;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	r = hasher_start(&h, fd, (uint64_t)st.st_size);
	if (r < 0)
		return r;
	return hasher_stop(&h, ret_hex);
}

int fetch_file(const char *url, const char *path, const char *expected_hex, const struct fetch_options *opts,
	       char ret_hex[65]) {
	_cleanup_free_ char *part = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct download d = {};
	struct file_get g = { url, &d };
	char hex[65];
	struct stat st;
	int r;

	if (access(path, F_OK) == 0) {
		if (!expected_hex)
			return log_error_errno(EEXIST, "%s already exists and there is no checksum to check it against; remove it to download again.", path);
		r = hash_existing(path, hex);
		if (r < 0)
			return log_error_errno(r, "Failed to read %s: %m", path);
		if (strcmp(hex, expected_hex) != 0)
			return log_error_errno(EEXIST, "%s already exists and its sha256 %s is not the expected %s; left as it is. Move it away to download again.",
					       path, hex, expected_hex);
		log_info("%s is already here and its sha256 matches.", path);
		memcpy(ret_hex, hex, 65);
		return 0;
	}

	if (asprintf(&part, "%s.part", path) < 0)
		return log_oom();
	fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "Failed to open %s: %m", part);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return log_error_errno(-errno, "Failed to lock %s (is another mlrig fetch writing it?): %m", part);
	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "Failed to stat %s: %m", part);

	buf = malloc(WRITE_BUFFER_SIZE);
	if (!buf)
		return log_oom();
	d = (struct download){ .part = part, .fd = fd, .have = (uint64_t)st.st_size, .buf = buf };
	if (d.have > 0)
		log_info("Resuming %s from %.1f MiB.", part, (double)d.have / (double)MiB);
	/* what is already there is hashed while the rest arrives */
	r = hasher_start(&d.hasher, fd, d.have);
	if (r < 0)
		return log_error_errno(r, "Failed to start hashing: %m");
	progress_init(&d.prog, path, opts->quiet);

	r = with_retries(url, opts, file_get, file_progress, &g);
	progress_done(&d.prog);
	if (r == -ERANGE && d.have > 0) {
		/* 416 for "bytes=N-": the partial file already holds the whole file */
		log_info("%s is already complete.", part);
		r = 0;
	} else if (r == -ERANGE)
		r = log_transfer_error(r, url, NULL);
	if (r < 0) {
		(void)hasher_stop(&d.hasher, NULL);
		if (d.have == 0)
			(void)unlink(part); /* nothing arrived: no reason to leave an empty .part behind */
		return r;
	}
	r = hasher_stop(&d.hasher, hex);
	if (r < 0)
		return log_error_errno(r, "Failed to hash %s: %m", part);
	if (d.total > 0 && d.have != d.total)
		return log_error_errno(EIO, "%s has %" PRIu64 " bytes, the server announced %" PRIu64 ".", part, d.have,
				       d.total);

	if (expected_hex && strcmp(hex, expected_hex) != 0)
		return log_error_errno(EBADMSG, "sha256 mismatch for %s: expected %s, got %s. %s is kept (remove it to download from scratch); %s was not created.",
				       url, expected_hex, hex, part, path);

	if (fsync(fd) < 0)
		return log_error_errno(-errno, "Failed to write %s: %m", part);
	/* never over a file that appeared meanwhile: that one is the user's */
	if (renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS)
			return log_error_errno(-errno, "Failed to rename %s to %s: %m", part, path);
		if (link(part, path) < 0)
			return log_error_errno(-errno, "Failed to rename %s to %s: %m", part, path);
		(void)unlink(part);
	}
	r = fsync_directory_of(path);
	if (r < 0)
		return log_error_errno(r, "Failed to sync the directory of %s: %m", path);
	memcpy(ret_hex, hex, 65);
	return 0;
}

struct memory_get {
	const char *url;
	size_t max;
	char *buf;
	size_t size;
};

static int memory_on_response(void *userdata, const struct curl_response *resp) {
	struct memory_get *m = userdata;

	m->size = 0; /* a fresh reply after a retry */
	return 0;
}

static int memory_on_data(void *userdata, const void *data, size_t size) {
	struct memory_get *m = userdata;
	char *nb;

	if (size > m->max - m->size)
		return -EFBIG;
	nb = realloc(m->buf, m->size + size + 1);
	if (!nb)
		return -ENOMEM;
	m->buf = nb;
	memcpy(m->buf + m->size, data, size);
	m->size += size;
	m->buf[m->size] = 0;
	return 0;
}

static int memory_get(void *u, char **detail) {
	struct memory_get *m = u;
	static const struct curl_transfer_ops ops = { memory_on_response, memory_on_data };

	return curl_util_get(m->url, 0, &ops, m, detail);
}

int fetch_memory(const char *url, size_t max, const struct fetch_options *opts, char **ret, size_t *ret_size) {
	struct memory_get m = { .url = url, .max = max };
	int r;

	r = with_retries(url, opts, memory_get, NULL, &m);
	if (r == -ERANGE)
		r = log_transfer_error(r, url, NULL);
	if (r >= 0 && !m.buf && !(m.buf = strdup("")))
		r = log_oom();
	if (r < 0) {
		free(m.buf);
		return r;
	}
	*ret = m.buf;
	if (ret_size)
		*ret_size = m.size;
	return 0;
}

static void rm_rf_tmpdir(char **dir) {
	char *data = NULL, *sig = NULL;

	if (!*dir)
		return;
	if (asprintf(&data, "%s/SHA256SUMS", *dir) >= 0)
		unlink(data);
	if (asprintf(&sig, "%s/SHA256SUMS.gpg", *dir) >= 0)
		unlink(sig);
	free(data);
	free(sig);
	rmdir(*dir);
	free(*dir);
}

int fetch_check_signature(const char *keyring, const char *data, size_t data_size, const char *sig,
			  size_t sig_size, char **ret_output) {
	_cleanup_(rm_rf_tmpdir) char *dir = NULL;
	_cleanup_free_ char *tmpl = NULL, *data_path = NULL, *sig_path = NULL, *abs_keyring = NULL;
	int r;

	/* gpgv looks up a keyring name without a slash in ~/.gnupg: always pass a path */
	abs_keyring = realpath(keyring, NULL);
	if (!abs_keyring)
		return negative_errno();
	if (asprintf(&tmpl, "%s/mlrig-gpgv.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(tmpl))
		return negative_errno();
	dir = TAKE_PTR(tmpl);
	if (asprintf(&data_path, "%s/SHA256SUMS", dir) < 0 || asprintf(&sig_path, "%s/SHA256SUMS.gpg", dir) < 0)
		return -ENOMEM;
	r = write_file_atomic(data_path, data, data_size, 0600);
	if (r >= 0)
		r = write_file_atomic(sig_path, sig, sig_size, 0600);
	if (r < 0)
		return r;
	r = run_command((char *[]){ "gpgv", "--keyring", abs_keyring, sig_path, data_path, NULL }, NULL, ret_output);
	if (r < 0)
		return r;
	return r == 0 ? 0 : -EBADMSG;
}
