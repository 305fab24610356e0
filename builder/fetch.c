/* Downloading: NAME.part resumed with Range, written and hashed beside the download, sha256 checked before the rename, retries. */
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "error.h"
#include "fileio.h"
#include "fs-util.h"
#include "hash-util.h"
#include "log.h"
#include "macro.h"
#include "process.h"
#include "progress.h"
#include "time-util.h"

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

/* ---- writing and hashing beside the download ----
 * The download thread only copies what arrives into 4 MiB slots. One thread hashes
 * each slot while another writes it, both in order: the sha256 runs on the other
 * core, nothing is read twice, and the writes use O_DIRECT where the file system and
 * the alignment allow, which saves the copy into the page cache and the write-back
 * after it. A resumed file's existing part is read back and hashed first. */

#define SLOTS 8
#define SLOT_SIZE (4 * MiB)
#define DIRECT_ALIGN 4096

enum { WORKER_HASH, WORKER_WRITE, _WORKER_MAX };

struct sink;

struct sink_worker {
	struct sink *sink;
	unsigned which;
	pthread_t thread;
	bool started;
};

struct sink {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast whenever a slot is queued or finished */
	struct sink_worker workers[_WORKER_MAX];
	bool finish;
	int fd, direct_fd;        /* direct_fd: the same file with O_DIRECT, or -1 */
	uint64_t prefix;          /* bytes already in the file: hashed from it before any slot */
	uint8_t *slots[SLOTS];
	size_t lens[SLOTS];
	uint64_t offsets[SLOTS];
	uint64_t queued;          /* slots handed over so far; slot number n lives in slots[n % SLOTS] */
	uint64_t done[_WORKER_MAX]; /* slots each worker has finished */
	int error[_WORKER_MAX];
	uint64_t synced;          /* buffered writes: write-back started up to here */
	Hash *hash;
};

static int hash_prefix(struct sink *k) {
	_cleanup_free_ uint8_t *buf = malloc(SLOT_SIZE);
	uint64_t pos = 0;

	if (!buf)
		return -ENOMEM;
	while (pos < k->prefix) {
		size_t got;
		int r = loop_pread(k->fd, buf, (size_t)MIN(k->prefix - pos, SLOT_SIZE), pos, &got);

		if (r < 0)
			return r;
		if (got == 0)
			return -EIO; /* shorter than it was a moment ago */
		r = hash_update(k->hash, buf, got);
		if (r < 0)
			return r;
		pos += got;
	}
	return 0;
}

static int write_slot(struct sink *k, const uint8_t *buf, size_t n, uint64_t offset) {
	int r;

	if (k->direct_fd >= 0 && ((offset | n) & (DIRECT_ALIGN - 1)) == 0)
		return loop_pwrite(k->direct_fd, buf, n, offset);
	/* the ends of the file, where a slot is not aligned: through the page cache */
	r = loop_pwrite(k->fd, buf, n, offset);
	if (r >= 0 && offset + n - k->synced >= 32 * MiB) {
		/* start write-back early, so the fsync before the rename has little left to do */
		(void)sync_file_range(k->fd, (off_t)k->synced, (off_t)(offset + n - k->synced), SYNC_FILE_RANGE_WRITE);
		k->synced = offset + n;
	}
	return r;
}

static void *worker_main(void *userdata) {
	struct sink_worker *wk = userdata;
	struct sink *k = wk->sink;
	unsigned s = wk->which;
	int r = s == WORKER_HASH ? hash_prefix(k) : 0;

	for (;;) {
		uint64_t n;
		unsigned i;

		pthread_mutex_lock(&k->lock);
		while (k->done[s] == k->queued && !k->finish)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->done[s] == k->queued) {
			k->error[s] = r;
			pthread_mutex_unlock(&k->lock);
			return NULL;
		}
		n = k->done[s];
		pthread_mutex_unlock(&k->lock);

		/* after an error the slots are still passed on, so the download never waits forever */
		i = (unsigned)(n % SLOTS);
		if (r >= 0 && s == WORKER_HASH)
			r = hash_update(k->hash, k->slots[i], k->lens[i]);
		if (r >= 0 && s == WORKER_WRITE)
			r = write_slot(k, k->slots[i], k->lens[i], k->offsets[i]);

		pthread_mutex_lock(&k->lock);
		k->done[s] = n + 1;
		if (r < 0 && k->error[s] == 0)
			k->error[s] = r; /* seen by the download at its next slot */
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->lock);
	}
}

static void sink_free(struct sink *k) {
	for (size_t i = 0; i < SLOTS; i++)
		free(k->slots[i]);
	hash_free(k->hash);
	closep(&k->direct_fd);
	*k = (struct sink){ .direct_fd = -1 };
}

static int sink_stop(struct sink *k, char ret_hex[65]);

/* Starts the two workers on fd, whose first prefix bytes are hashed first. With path,
 * slots are written to it (O_DIRECT where possible); without, only prefix is hashed. */
static int sink_start(struct sink *k, int fd, const char *path, uint64_t prefix) {
	*k = (struct sink){ .fd = fd, .direct_fd = -1, .prefix = prefix, .synced = prefix };
	if (hash_new(HASH_SHA256, &k->hash) < 0) {
		sink_free(k);
		return -ENOMEM;
	}
	for (size_t i = 0; i < SLOTS; i++)
		if (posix_memalign((void **)&k->slots[i], DIRECT_ALIGN, SLOT_SIZE) != 0) {
			sink_free(k);
			return -ENOMEM;
		}
	if (path) {
		k->direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
		if (k->direct_fd < 0)
			log_debug_errno(-errno, "No O_DIRECT for %s, writing through the page cache: %m", path);
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	for (unsigned s = 0; s < _WORKER_MAX; s++) {
		struct sink_worker *wk = &k->workers[s];
		int r;

		*wk = (struct sink_worker){ .sink = k, .which = s };
		r = -pthread_create(&wk->thread, NULL, worker_main, wk);
		if (r < 0) {
			(void)sink_stop(k, NULL);
			return r;
		}
		wk->started = true;
	}
	return 0;
}

/* The slot to fill next (SLOT_SIZE bytes): waits until both workers are done with it.
 * An error either worker met comes back here, so the download stops at the next slot. */
static int sink_slot(struct sink *k, uint8_t **ret) {
	int r = 0;

	pthread_mutex_lock(&k->lock);
	while (k->queued - MIN(k->done[WORKER_HASH], k->done[WORKER_WRITE]) == SLOTS)
		pthread_cond_wait(&k->cond, &k->lock);
	for (unsigned s = 0; s < _WORKER_MAX; s++)
		if (k->error[s] < 0 && r == 0)
			r = k->error[s];
	*ret = k->slots[k->queued % SLOTS];
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* Hands over the slot from sink_slot(): n bytes that belong at offset in the file. */
static void sink_queue(struct sink *k, size_t n, uint64_t offset) {
	pthread_mutex_lock(&k->lock);
	k->lens[k->queued % SLOTS] = n;
	k->offsets[k->queued % SLOTS] = offset;
	k->queued++;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

/* Waits until every slot is hashed and written; with ret_hex, the digest of it all. */
static int sink_stop(struct sink *k, char ret_hex[65]) {
	int r = 0;

	pthread_mutex_lock(&k->lock);
	k->finish = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	for (unsigned s = 0; s < _WORKER_MAX; s++)
		if (k->workers[s].started) {
			pthread_join(k->workers[s].thread, NULL);
			if (k->error[s] < 0 && r == 0)
				r = k->error[s];
		}
	if (r >= 0 && ret_hex)
		r = hash_final_hex(k->hash, ret_hex);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	sink_free(k);
	return r;
}

/* ---- one download into NAME.part ---- */

struct download {
	const struct fetch_options *opts;
	const char *part;
	int fd;
	uint64_t have;     /* bytes handed to the sink: on disk once it stops */
	uint8_t *buf;      /* the sink's slot being filled */
	size_t fill, cap;  /* cap: slots end at SLOT_SIZE boundaries of the file, so O_DIRECT lines up */
	double slot_start; /* when the slot was taken: a slow download still reaches the disk every second */
	uint64_t total;    /* expected size, 0 when unknown */
	struct sink sink;
	bool sinking;
	struct progress prog;
};

static int download_next_slot(struct download *d) {
	int r;

	d->fill = 0;
	d->cap = SLOT_SIZE - (size_t)(d->have % SLOT_SIZE);
	r = sink_slot(&d->sink, &d->buf);
	d->slot_start = now_seconds();
	return r;
}

static int download_flush(struct download *d) {
	if (d->fill == 0)
		return 0;
	sink_queue(&d->sink, d->fill, d->have);
	d->have += d->fill;
	return download_next_slot(d);
}

static int download_start(struct download *d) {
	int r = sink_start(&d->sink, d->fd, d->part, d->have);

	if (r < 0)
		return r;
	d->sinking = true;
	return download_next_slot(d);
}

/* Everything handed over written and hashed; with ret_hex, the file's sha256. */
static int download_stop(struct download *d, char ret_hex[65]) {
	if (!d->sinking)
		return -ESRCH;
	d->sinking = false;
	d->buf = NULL;
	return sink_stop(&d->sink, ret_hex);
}

/* Tells the caller's notify() what is going on, when it wants to know. */
static void notify(const struct fetch_options *opts, bool warning, const char *fmt, ...) _printf_(3, 4);
static void notify(const struct fetch_options *opts, bool warning, const char *fmt, ...) {
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (!opts->notify)
		return;
	va_start(ap, fmt);
	set_errorv(&msg, 0, fmt, ap);
	va_end(ap);
	if (msg)
		opts->notify(warning, msg);
}

static int download_on_response(void *userdata, const struct curl_response *resp) {
	struct download *d = userdata;
	enum fetch_resume action;
	int r;

	r = fetch_resume_decide(d->have, resp, &action);
	if (r < 0)
		return -EILSEQ; /* said by transfer_error() */
	if (action == FETCH_RESTART) {
		notify(d->opts, false, "The server does not resume downloads; starting %s over.", d->part);
		(void)download_stop(d, NULL);
		if (ftruncate(d->fd, 0) < 0)
			return negative_errno();
		d->have = 0;
		r = download_start(d);
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
		size_t k = MIN(size, d->cap - d->fill);

		memcpy(d->buf + d->fill, p, k);
		d->fill += k;
		p += k;
		size -= k;
		if (d->fill == d->cap) {
			int r = download_flush(d);
			if (r < 0)
				return r;
		}
	}
	if (d->fill > 0 && now_seconds() - d->slot_start >= 1.0) {
		int r = download_flush(d);
		if (r < 0)
			return r;
	}
	progress_update(&d->prog, d->have + d->fill, d->total);
	return 0;
}

static const char *transfer_error_to_string(int r) {
	if (r == -EILSEQ)
		return "the server sent another part of the file than the one asked for; not appending it";
	return curl_util_error_to_string(r);
}

static int transfer_error(char **ret_error, int r, const char *url, const char *detail) {
	return set_error(ret_error, r, "Failed to fetch %s: %s%s%s%s", url, transfer_error_to_string(r),
			 detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

/* Runs get() until it succeeds, fails for good, or the tries are used up; pauses double each time.
 * -ERANGE (416) is returned unsaid: the caller knows what it means for its request. */
static int with_retries(const char *url, const struct fetch_options *opts, int (*get)(void *u, char **detail),
			uint64_t (*progress_of)(void *u), void *u, char **ret_error) {
	unsigned delay = opts->backoff_ms, failures = 0;

	for (;;) {
		_cleanup_free_ char *detail = NULL;
		uint64_t before = progress_of ? progress_of(u) : 0;
		int r = get(u, &detail);

		if (r >= 0 || !curl_util_error_is_transient(r))
			return r < 0 && r != -ERANGE ? transfer_error(ret_error, r, url, detail) : r;
		/* a try that made progress does not count against the limit */
		if (progress_of && progress_of(u) > before) {
			failures = 0;
			delay = opts->backoff_ms;
		}
		if (failures++ >= opts->retries)
			return transfer_error(ret_error, r, url, detail);
		notify(opts, true, "Fetching %s: %s%s%s%s; trying again in %.1f s.", url, transfer_error_to_string(r),
		       detail ? " (" : "", detail ? detail : "", detail ? ")" : "", delay / 1000.0);
		sleep_ms(delay);
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
	/* a failed write or hash ends the fetch, whatever the transfer did: a retry would leave a gap */
	return k < 0 ? k : r;
}

static uint64_t file_progress(void *u) {
	return ((struct file_get *)u)->d->have;
}

static int hash_existing(const char *path, char ret_hex[65]) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct sink k;
	struct stat st;
	int r;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	r = sink_start(&k, fd, NULL, (uint64_t)st.st_size);
	if (r < 0)
		return r;
	return sink_stop(&k, ret_hex);
}

int fetch_file(const char *url, const char *path, const char *expected_hex, const struct fetch_options *opts,
	       char ret_hex[65], char **ret_error) {
	_cleanup_free_ char *part = NULL;
	_cleanup_close_ int fd = -1;
	struct download d = {};
	struct file_get g = { url, &d };
	char hex[65];
	struct stat st;
	int r;

	if (access(path, F_OK) == 0) {
		if (!expected_hex)
			return set_error(ret_error, -EEXIST, "%s already exists and there is no checksum to check it against; remove it to download again.", path);
		r = hash_existing(path, hex);
		if (r < 0)
			return set_error(ret_error, r, "Failed to read %s: %m", path);
		if (strcmp(hex, expected_hex) != 0)
			return set_error(ret_error, -EEXIST, "%s already exists and its sha256 %s is not the expected %s; left as it is. Move it away to download again.",
					 path, hex, expected_hex);
		notify(opts, false, "%s is already here and its sha256 matches.", path);
		memcpy(ret_hex, hex, 65);
		return 0;
	}

	if (asprintf(&part, "%s.part", path) < 0)
		return -ENOMEM;
	fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return set_error(ret_error, negative_errno(), "Failed to open %s: %m", part);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return set_error(ret_error, negative_errno(), "Failed to lock %s (is another mlrig fetch writing it?): %m", part);
	if (fstat(fd, &st) < 0)
		return set_error(ret_error, negative_errno(), "Failed to stat %s: %m", part);

	d = (struct download){ .opts = opts, .part = part, .fd = fd, .have = (uint64_t)st.st_size };
	if (d.have > 0)
		notify(opts, false, "Resuming %s from %.1f MiB.", part, (double)d.have / (double)MiB);
	/* what is already there is hashed while the rest arrives */
	r = download_start(&d);
	if (r < 0)
		return set_error(ret_error, r, "Failed to start writing %s: %m", part);
	progress_init(&d.prog, path, opts->quiet);

	r = with_retries(url, opts, file_get, file_progress, &g, ret_error);
	progress_done(&d.prog);
	if (r == -ERANGE && d.have > 0) {
		/* 416 for "bytes=N-": the partial file already holds the whole file */
		notify(opts, false, "%s is already complete.", part);
		r = 0;
	} else if (r == -ERANGE)
		r = transfer_error(ret_error, r, url, NULL);
	if (r < 0) {
		(void)download_stop(&d, NULL);
		if (d.have == 0)
			(void)unlink(part); /* nothing arrived: no reason to leave an empty .part behind */
		else if (ret_error && *ret_error) { /* say what is left, and what it is for */
			char *m;

			if (asprintf(&m, "%s. %s is kept (%.1f MiB): the same command resumes it.", *ret_error, part,
				     (double)d.have / MiB) >= 0) {
				free(*ret_error);
				*ret_error = m;
			}
		}
		return r;
	}
	r = download_stop(&d, hex);
	if (r < 0)
		return set_error(ret_error, r, "Failed to write or hash %s: %m", part);
	if (d.total > 0 && d.have != d.total)
		return set_error(ret_error, -EIO, "%s has %" PRIu64 " bytes, the server announced %" PRIu64 ".", part, d.have,
				 d.total);

	if (expected_hex && strcmp(hex, expected_hex) != 0)
		return set_error(ret_error, -EBADMSG, "sha256 mismatch for %s: expected %s, got %s. %s is kept (remove it to download from scratch); %s was not created.",
				 url, expected_hex, hex, part, path);

	if (fsync(fd) < 0)
		return set_error(ret_error, negative_errno(), "Failed to write %s: %m", part);
	/* never over a file that appeared meanwhile: that one is the user's */
	if (renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS)
			return set_error(ret_error, negative_errno(), "Failed to rename %s to %s: %m", part, path);
		if (link(part, path) < 0)
			return set_error(ret_error, negative_errno(), "Failed to rename %s to %s: %m", part, path);
		(void)unlink(part);
	}
	r = fsync_directory_of(path);
	if (r < 0)
		return set_error(ret_error, r, "Failed to sync the directory of %s: %m", path);
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

int fetch_memory(const char *url, size_t max, const struct fetch_options *opts, char **ret, size_t *ret_size,
		 char **ret_error) {
	struct memory_get m = { .url = url, .max = max };
	int r;

	r = with_retries(url, opts, memory_get, NULL, &m, ret_error);
	if (r == -ERANGE)
		r = transfer_error(ret_error, r, url, NULL);
	if (r >= 0 && !m.buf && !(m.buf = strdup("")))
		r = -ENOMEM;
	if (r < 0) {
		free(m.buf);
		return r;
	}
	*ret = m.buf;
	if (ret_size)
		*ret_size = m.size;
	return 0;
}

static void rm_rf_freep(char **dir) {
	if (*dir)
		(void)rm_rf(*dir);
	free(*dir);
}

int fetch_check_signature(const char *keyring, const char *data, size_t data_size, const char *sig,
			  size_t sig_size, char **ret_output) {
	_cleanup_(rm_rf_freep) char *dir = NULL;
	_cleanup_free_ char *data_path = NULL, *sig_path = NULL, *abs_keyring = NULL;
	struct process_result res = {};
	int r;

	/* gpgv looks up a keyring name without a slash in ~/.gnupg: always pass a path */
	abs_keyring = realpath(keyring, NULL);
	if (!abs_keyring)
		return negative_errno();
	r = make_tmpdir("mlrig-gpgv", &dir);
	if (r < 0)
		return r;
	if (asprintf(&data_path, "%s/SHA256SUMS", dir) < 0 || asprintf(&sig_path, "%s/SHA256SUMS.gpg", dir) < 0)
		return -ENOMEM;
	r = write_file_atomic(data_path, data, data_size, 0600);
	if (r >= 0)
		r = write_file_atomic(sig_path, sig, sig_size, 0600);
	if (r < 0)
		return r;
	r = process_run(&(struct process_options){
				.argv = (char *[]){ "gpgv", "--keyring", abs_keyring, sig_path, data_path, NULL },
				.stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
			}, &res);
	if (ret_output)
		*ret_output = TAKE_PTR(res.out);
	process_result_release(&res);
	if (r < 0)
		return r;
	return r == 0 ? 0 : -EBADMSG;
}
