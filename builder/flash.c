/* Copying an image to a disk: only its data ranges (holes zeroed where the device does it for free), the first MiB last, then a read-back. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "flash.h"
#include "log.h"
#include "macro.h"
#include "progress.h"
#include "time-util.h"

void flash_split_aligned(uint64_t offset, uint64_t length, uint64_t align, uint64_t *ret_head,
			 uint64_t *ret_middle, uint64_t *ret_tail) {
	uint64_t end = offset + length, a = ALIGN_TO(offset, align), b = end / align * align;

	if (align <= 1) {
		*ret_head = 0, *ret_middle = length, *ret_tail = 0;
		return;
	}
	if (a >= b) {
		/* no whole aligned block inside */
		*ret_head = length, *ret_middle = 0, *ret_tail = 0;
		return;
	}
	*ret_head = a - offset;
	*ret_middle = b - a;
	*ret_tail = end - b;
}

size_t flash_first_difference(const void *a, const void *b, size_t n) {
	const uint8_t *x = a, *y = b;
	size_t i = 0;

	/* memcmp is fast; narrow down in blocks before looking at bytes */
	while (i < n) {
		size_t k = MIN((size_t)4096, n - i);

		if (memcmp(x + i, y + i, k) != 0) {
			while (x[i] == y[i])
				i++;
			return i;
		}
		i += k;
	}
	return n;
}

size_t flash_first_nonzero(const void *p, size_t n) {
	static const uint8_t zeros[4096];
	const uint8_t *x = p;

	for (size_t i = 0; i < n; i += sizeof(zeros)) {
		size_t k = MIN(sizeof(zeros), n - i);

		if (memcmp(x + i, zeros, k) != 0)
			return i + flash_first_difference(x + i, zeros, k);
	}
	return n;
}
static int write_zeros(int fd, uint64_t offset, uint64_t length) {
	static uint8_t *z;

	if (!z && !(z = calloc(1, MiB)))
		return -ENOMEM;
	while (length > 0) {
		size_t k = (size_t)MIN(length, MiB);
		int r = loop_pwrite(fd, z, k, offset);
		if (r < 0)
			return r;
		offset += k;
		length -= k;
	}
	return 0;
}

bool flash_zeroes_holes(const struct flash_target *t, enum flash_holes holes) {
	return holes == FLASH_HOLES_ZERO || (holes == FLASH_HOLES_AUTO && t->zeroes_free);
}

/* Makes [offset, offset+length) read back as zeros, and adds to *sent the bytes
 * that had to go to the device for it. BLKZEROOUT is the kernel's guaranteed
 * zeroing (WRITE ZEROES, or zero pages written where the device has none); a
 * discard may leave old data readable, so it is never used. */
static int zero_range(int fd, const struct flash_target *t, uint64_t offset, uint64_t length, uint64_t *sent) {
	uint64_t head, middle, tail;
	int r;

	if (length == 0)
		return 0;
	if (!t->block) {
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0)
			return 0;
		if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0)
			return 0;
		*sent += length;
		return write_zeros(fd, offset, length);
	}
	flash_split_aligned(offset, length, t->sector_size, &head, &middle, &tail);
	if (middle > 0) {
		uint64_t range[2] = { offset + head, middle };

		if (ioctl(fd, BLKZEROOUT, range) == 0) {
			if (!t->zeroes_free)
				*sent += middle; /* the kernel wrote pages of zeros */
		} else {
			if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
				return negative_errno();
			head += middle; /* write the zeros ourselves */
			middle = 0;
		}
	}
	*sent += head + tail;
	r = write_zeros(fd, offset, head);
	if (r < 0)
		return r;
	return write_zeros(fd, offset + head + middle, tail);
}

/* Index of the first extent that ends after offset (extents cover the span in order). */
static size_t extent_at(const struct flash_extent *ext, size_t n_ext, uint64_t offset) {
	size_t lo = 0, hi = n_ext;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ext[mid].offset + ext[mid].length <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool range_has_data(const struct flash_extent *ext, size_t n_ext, uint64_t cs, size_t n) {
	for (size_t i = extent_at(ext, n_ext, cs); i < n_ext && ext[i].offset < cs + n; i++)
		if (ext[i].data)
			return true;
	return false;
}

/* Fills buf with the image's bytes in [cs, cs+n): data read, holes as zeros. */
static int read_image_chunk(int image_fd, const struct flash_extent *ext, size_t n_ext, uint64_t cs, size_t n,
			    uint8_t *buf) {
	uint64_t ce = cs + n;

	for (size_t i = extent_at(ext, n_ext, cs); i < n_ext && ext[i].offset < ce; i++) {
		uint64_t a = MAX(ext[i].offset, cs), b = MIN(ext[i].offset + ext[i].length, ce);
		size_t got;
		int r;

		if (!ext[i].data) {
			memset(buf + (a - cs), 0, b - a);
			continue;
		}
		r = loop_pread(image_fd, buf + (a - cs), b - a, a, &got);
		if (r < 0)
			return r;
		if (got != b - a)
			return -EIO; /* the image shrank under us */
	}
	return 0;
}

/* Writes with O_DIRECT where the piece is sector-aligned (no second copy in the
 * page cache, and several times faster into a loop device), else buffered. */
static int dev_pwrite(int fd, const struct flash_target *t, bool direct, const uint8_t *buf, size_t n,
		      uint64_t offset) {
	_cleanup_close_ int bfd = -EBADF;
	_cleanup_free_ char *path = NULL;
	int r;

	if (!direct || ((offset | n | (uintptr_t)buf) & (t->sector_size - 1)) == 0)
		return loop_pwrite(fd, buf, n, offset);
	/* An unaligned piece (the end of an image of odd size) goes through a second,
	 * buffered descriptor: O_DIRECT on fd is shared with the other threads. */
	if (asprintf(&path, "/proc/self/fd/%d", fd) < 0)
		return -ENOMEM;
	bfd = open(path, O_WRONLY | O_CLOEXEC);
	if (bfd < 0)
		return negative_errno();
	r = loop_pwrite(bfd, buf, n, offset);
	if (r >= 0 && fdatasync(bfd) < 0)
		r = negative_errno();
	return r;
}

/* ---- the copy and the read-back: chunks taken in turn by a few threads ----
 * With several requests in flight the device never waits for the image to be read
 * or the last chunk to be compared. On the 2-core machine bench/flash.sh ran on,
 * two threads did as well as four. The buffers ask for huge pages: O_DIRECT then
 * pins one page per 2 MiB instead of 512, and `mlrig flash --verify-only` of the
 * bench's 1 GiB image took 0.10-0.15 s instead of 0.17-0.21 s. */

#define FLASH_THREADS 4
/* Reads back, and the first MiB's writes, start and end on these bounds: what O_DIRECT wants, whole pages. */
#define FLASH_IO_ALIGN 4096

struct flash_pass {
	int image_fd, fd;
	const struct flash_target *t;
	const struct flash_extent *ext;
	size_t n_ext;
	uint64_t span, head_len;
	uint64_t from, to, n_chunks; /* this pass: [from, to) in chunks */
	bool direct;
	bool zero_holes;   /* holes are zeroed, so they are read back too */
	uint8_t *head;     /* writing: the first MiB, kept for last */
	unsigned delay_ms; /* tests: sleep per chunk */

	atomic_uint_fast64_t next;    /* the next chunk to take */
	atomic_uint_fast64_t done;    /* bytes written or verified in this pass, for progress */
	atomic_uint_fast64_t written; /* bytes of data sent to the device, all passes */
	atomic_uint_fast64_t read;    /* bytes read back from the device, all passes */
	atomic_uint_fast64_t bad;     /* verifying: the lowest differing offset found, UINT64_MAX if none */
	atomic_bool stop;
	atomic_bool drawing;          /* a worker is redrawing the progress line */
	pthread_mutex_t lock;
	int error;         /* the first failure, under lock */
	char **ret_error;  /* its message, for the caller (may be NULL) */
};

/* Where the part of [a, b) (inside extent e) that is read back ends: data always;
 * holes only where they were zeroed, the first MiB always and the rest with zero_holes. */
static uint64_t checked_end(const struct flash_pass *p, const struct flash_extent *e, uint64_t a, uint64_t b) {
	if (e->data || p->zero_holes)
		return b;
	return MAX(a, MIN(b, p->head_len));
}

/* Bytes in [from, to) that writing copies (data), or that verifying reads back. */
static uint64_t pass_total(const struct flash_pass *p, uint64_t from, uint64_t to, bool verifying) {
	uint64_t sum = 0;

	for (size_t i = extent_at(p->ext, p->n_ext, from); i < p->n_ext && p->ext[i].offset < to; i++) {
		uint64_t a = MAX(p->ext[i].offset, from), b = MIN(p->ext[i].offset + p->ext[i].length, to);

		if (verifying)
			sum += checked_end(p, &p->ext[i], a, b) - a;
		else if (p->ext[i].data)
			sum += b - a;
	}
	return sum;
}

/* A worker's failure: the first one wins (the others may only be its echo), and every thread stops. */
static int pass_fail(struct flash_pass *p, int r, const char *fmt, ...) _printf_(3, 4);
static int pass_fail(struct flash_pass *p, int r, const char *fmt, ...) {
	va_list ap;

	pthread_mutex_lock(&p->lock);
	if (p->error == 0) {
		p->error = r;
		va_start(ap, fmt);
		set_errorv(p->ret_error, r, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&p->lock);
	atomic_store(&p->stop, true);
	return r;
}

static void chunk_bounds(const struct flash_pass *p, uint64_t c, uint64_t *ret_cs, size_t *ret_n) {
	*ret_cs = p->from + c * FLASH_CHUNK_SIZE;
	*ret_n = (size_t)MIN(FLASH_CHUNK_SIZE, p->to - *ret_cs);
}

static int write_chunk(struct flash_pass *p, uint64_t c, uint8_t *buf, uint8_t *unused) {
	uint64_t cs, ce;
	size_t n;
	int r;

	(void)unused;
	chunk_bounds(p, c, &cs, &n);
	ce = cs + n;
	if (!range_has_data(p->ext, p->n_ext, cs, n))
		return 0;
	r = read_image_chunk(p->image_fd, p->ext, p->n_ext, cs, n, buf);
	if (r < 0)
		return pass_fail(p, r, "Failed to read the image at offset %" PRIu64 ": %m", cs);
	if (cs < p->head_len)
		memcpy(p->head + cs, buf, (size_t)MIN(n, p->head_len - cs));
	for (size_t i = extent_at(p->ext, p->n_ext, cs); i < p->n_ext && p->ext[i].offset < ce; i++) {
		uint64_t a = MAX(MAX(p->ext[i].offset, cs), p->head_len), b = MIN(p->ext[i].offset + p->ext[i].length, ce);

		if (!p->ext[i].data || a >= b)
			continue;
		r = dev_pwrite(p->fd, p->t, p->direct, buf + (a - cs), b - a, a);
		if (r < 0)
			return pass_fail(p, r, "Failed to write %s near offset %" PRIu64 ": %m", p->t->path, a);
		atomic_fetch_add(&p->written, b - a);
		atomic_fetch_add(&p->done, b - a);
	}
	return 0;
}

/* Reads [a, b) of the chunk at cs back into buf (from aligned bounds around it)
 * and compares it with image (the chunk's bytes, or NULL: all zeros). A difference
 * lowers p->bad and returns 1. */
static int verify_run(struct flash_pass *p, uint64_t cs, uint64_t a, uint64_t b, uint8_t *buf, const uint8_t *image) {
	uint64_t ra = a / FLASH_IO_ALIGN * FLASH_IO_ALIGN, seen;
	size_t got, bad;
	int r;

	if (a >= b)
		return 0;
	r = loop_pread(p->fd, buf + (ra - cs), ALIGN_TO(b, FLASH_IO_ALIGN) - ra, ra, &got);
	if (r < 0)
		return pass_fail(p, r, "Failed to read back %s at offset %" PRIu64 ": %m", p->t->path, ra);
	atomic_fetch_add(&p->read, got);
	if (ra + got < b)
		return pass_fail(p, -EIO, "Failed to read back %s: short read at offset %" PRIu64 ": %m", p->t->path,
				 ra + got);
	atomic_fetch_add(&p->done, b - a);
	bad = image ? flash_first_difference(buf + (a - cs), image + (a - cs), b - a)
		    : flash_first_nonzero(buf + (a - cs), b - a);
	if (bad == b - a)
		return 0;
	seen = atomic_load(&p->bad);
	while (a + bad < seen && !atomic_compare_exchange_weak(&p->bad, &seen, a + bad))
		;
	return 1;
}

/* Reads back what the chunk holds of the data (and of the zeroed holes) and compares
 * it with the image, in runs of adjacent pieces. Exact, and it finds the first
 * differing byte, where a digest would only say that a chunk differs. */
static int verify_chunk(struct flash_pass *p, uint64_t c, uint8_t *buf, uint8_t *image) {
	uint64_t cs, ce, a, b;
	size_t n;
	bool data;
	int r;

	chunk_bounds(p, c, &cs, &n);
	ce = cs + n;
	data = range_has_data(p->ext, p->n_ext, cs, n);
	if (data) {
		r = read_image_chunk(p->image_fd, p->ext, p->n_ext, cs, n, image);
		if (r < 0)
			return pass_fail(p, r, "Failed to read the image at offset %" PRIu64 ": %m", cs);
	}
	a = b = cs; /* the run gathered so far */
	for (size_t i = extent_at(p->ext, p->n_ext, cs); i < p->n_ext && p->ext[i].offset < ce; i++) {
		uint64_t s = MAX(p->ext[i].offset, cs);
		uint64_t e = checked_end(p, &p->ext[i], s, MIN(p->ext[i].offset + p->ext[i].length, ce));

		if (e == s)
			continue; /* a hole left as it was */
		if (s != b) {
			r = verify_run(p, cs, a, b, buf, data ? image : NULL);
			if (r != 0)
				return r;
			a = s;
		}
		b = e;
	}
	r = verify_run(p, cs, a, b, buf, data ? image : NULL);
	return MIN(r, 0);
}

typedef int (*chunk_fn)(struct flash_pass *p, uint64_t c, uint8_t *buf, uint8_t *buf2);

struct flash_worker {
	struct flash_pass *p;
	chunk_fn fn;
	uint8_t *buf, *buf2;
	struct progress *prog; /* shared; one worker at a time redraws it */
	uint64_t total;
	pthread_t thread;
	bool started;
};

static void *worker_main(void *userdata) {
	struct flash_worker *w = userdata;
	struct flash_pass *p = w->p;

	for (;;) {
		uint64_t c = atomic_fetch_add(&p->next, 1);

		/* past a difference already found nothing more is needed: the lowest one is reported */
		if (c >= p->n_chunks || atomic_load(&p->stop) || p->from + c * FLASH_CHUNK_SIZE >= atomic_load(&p->bad))
			break;
		if (w->fn(p, c, w->buf, w->buf2) < 0)
			break;
		/* whichever worker finishes a chunk redraws, so a pass the other threads finish alone still shows */
		if (!atomic_exchange(&p->drawing, true)) {
			progress_update(w->prog, atomic_load(&p->done), w->total);
			atomic_store(&p->drawing, false);
		}
		if (p->delay_ms > 0)
			sleep_ms(p->delay_ms);
	}
	return NULL;
}

/* Runs fn over the chunks of [from, to) on FLASH_THREADS threads (fewer if they cannot start). */
static int run_pass(struct flash_pass *p, chunk_fn fn, uint64_t from, uint64_t to, const char *what, uint64_t total,
		    bool quiet) {
	struct flash_worker w[FLASH_THREADS] = {};
	struct progress prog;
	int r = 0;

	p->from = from;
	p->to = to;
	p->n_chunks = DIV_ROUND_UP(to - from, FLASH_CHUNK_SIZE);
	atomic_store(&p->next, 0);
	atomic_store(&p->done, 0);
	atomic_store(&p->stop, false);
	for (size_t i = 0; i < ELEMENTSOF(w) && r == 0; i++) {
		w[i] = (struct flash_worker){ .p = p, .fn = fn, .total = total, .prog = &prog };
		if (posix_memalign((void **)&w[i].buf, 2 * MiB, FLASH_CHUNK_SIZE) != 0 ||
		    posix_memalign((void **)&w[i].buf2, 2 * MiB, FLASH_CHUNK_SIZE) != 0)
			r = -ENOMEM;
		else {
			(void)madvise(w[i].buf, FLASH_CHUNK_SIZE, MADV_HUGEPAGE);
			(void)madvise(w[i].buf2, FLASH_CHUNK_SIZE, MADV_HUGEPAGE);
		}
	}
	if (r == 0) {
		progress_init(&prog, what, quiet);
		for (size_t i = 1; i < ELEMENTSOF(w); i++)
			w[i].started = pthread_create(&w[i].thread, NULL, worker_main, &w[i]) == 0;
		worker_main(&w[0]);
		for (size_t i = 1; i < ELEMENTSOF(w); i++)
			if (w[i].started)
				pthread_join(w[i].thread, NULL);
		progress_done(&prog);
		r = p->error;
	}
	for (size_t i = 0; i < ELEMENTSOF(w); i++) {
		free(w[i].buf);
		free(w[i].buf2);
	}
	return r;
}

/* The image's size: a file's length, or a block device's. */
static int image_span(int image_fd, uint64_t *ret, char **ret_error) {
	struct stat st;
	uint64_t size;

	if (fstat(image_fd, &st) < 0)
		return set_error(ret_error, negative_errno(), "Failed to stat the image: %m");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(image_fd, BLKGETSIZE64, &size) < 0)
			return set_error(ret_error, negative_errno(), "Failed to get the image's size: %m");
	} else
		size = (uint64_t)st.st_size;
	if (size == 0)
		return set_error(ret_error, -EINVAL, "The image is empty.");
	*ret = size;
	return 0;
}

/* Reads [from, to) of the device back and compares it with the image. */
static int verify_range(struct flash_pass *p, uint64_t from, uint64_t to, bool quiet, struct flash_stats *stats) {
	int flags = fcntl(p->fd, F_GETFL), r;

	/* read the medium, not the page cache */
	if (flags < 0 || fcntl(p->fd, F_SETFL, flags | O_DIRECT) < 0) {
		log_debug_errno(-errno, "No O_DIRECT on %s, reading back through the page cache: %m", p->t->path);
		if (p->t->block)
			(void)ioctl(p->fd, BLKFLSBUF, 0);
		(void)posix_fadvise(p->fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
	}
	r = run_pass(p, verify_chunk, from, to, p->zero_holes ? "reading back data and holes" : "reading back data",
		     pass_total(p, from, to, true), quiet);
	if (flags >= 0)
		(void)fcntl(p->fd, F_SETFL, flags);
	stats->read = atomic_load(&p->read);
	if (r < 0)
		return r;
	if (atomic_load(&p->bad) != UINT64_MAX) {
		stats->bad_offset = atomic_load(&p->bad);
		return -EBADMSG;
	}
	return 0;
}

/* The image's span and data ranges into p; the caller frees *ret_ext. */
static int pass_load_image(struct flash_pass *p, struct flash_stats *stats, struct flash_extent **ret_ext) {
	int r = image_span(p->image_fd, &p->span, p->ret_error);

	if (r < 0)
		return r;
	stats->span = p->span;
	p->head_len = MIN(p->span, FLASH_HEAD_SIZE);
	r = flash_image_extents(p->image_fd, p->span, ret_ext, &p->n_ext);
	if (r < 0)
		return set_error(p->ret_error, r, "Failed to find the image's data ranges: %m");
	p->ext = *ret_ext;
	stats->data = pass_total(p, 0, p->span, false);
	stats->zero_holes = p->zero_holes;
	return 0;
}

int flash_verify(int image_fd, int fd, const struct flash_target *t, const struct flash_options *opts,
		 struct flash_stats *stats, char **ret_error) {
	_cleanup_free_ struct flash_extent *ext = NULL;
	struct flash_pass p = { .image_fd = image_fd, .fd = fd, .t = t, .zero_holes = flash_zeroes_holes(t, opts->holes),
				.bad = UINT64_MAX, .lock = PTHREAD_MUTEX_INITIALIZER, .ret_error = ret_error };
	int r;

	r = pass_load_image(&p, stats, &ext);
	if (r < 0)
		return r;
	r = verify_range(&p, 0, p.span, opts->quiet, stats);
	if (r < 0)
		return r;
	stats->verified = true;
	return 0;
}

/* The last flush runs in a thread beside the read-back. */
struct flusher {
	int fd, error;
	bool started;
	pthread_t thread;
};

static void *flusher_main(void *userdata) {
	struct flusher *f = userdata;

	f->error = fsync(f->fd) < 0 ? -errno : 0;
	return NULL;
}

static void flusher_start(struct flusher *f, int fd) {
	*f = (struct flusher){ .fd = fd };
	f->started = pthread_create(&f->thread, NULL, flusher_main, f) == 0;
}

static int flusher_finish(struct flusher *f) {
	if (!f->started)
		return fsync(f->fd) < 0 ? -errno : 0;
	pthread_join(f->thread, NULL);
	return f->error;
}

/* With zero_holes, the holes past the first MiB become zeros, in pieces so that the
 * progress line moves where the device has to be sent every zero. */
static int zero_all_holes(const struct flash_pass *p, bool quiet, struct flash_stats *stats, uint64_t *sent) {
	uint64_t total = p->span - p->head_len - pass_total(p, p->head_len, p->span, false), done = 0;
	struct progress prog;
	int r = 0;

	progress_init(&prog, "zeroing holes", quiet);
	for (size_t i = extent_at(p->ext, p->n_ext, p->head_len); i < p->n_ext && r >= 0; i++) {
		uint64_t a = MAX(p->ext[i].offset, p->head_len), b = p->ext[i].offset + p->ext[i].length, k;

		for (; !p->ext[i].data && a < b; a += k) {
			k = MIN(b - a, 64 * MiB);
			r = zero_range(p->fd, p->t, a, k, sent);
			if (r < 0) {
				r = set_error(p->ret_error, r, "Failed to zero %s at offset %" PRIu64 ": %m", p->t->path, a);
				break;
			}
			done += k;
			progress_update(&prog, done, total);
		}
	}
	progress_done(&prog);
	stats->zeroed += done;
	return r;
}

/* Before any data: a regular file grows to the span; the first MiB, the device's
 * last MiB past the image and, with zero_holes, the holes become zeros. */
static int clear_before_data(const struct flash_pass *p, bool quiet, struct flash_stats *stats, uint64_t *sent) {
	const struct flash_target *t = p->t;
	uint64_t size = t->size, from;
	struct stat st;
	int r;

	if (!t->block) {
		if (fstat(p->fd, &st) < 0)
			return set_error(p->ret_error, negative_errno(), "Failed to stat %s: %m", t->path);
		if ((uint64_t)st.st_size < p->span && ftruncate(p->fd, (off_t)p->span) < 0)
			return set_error(p->ret_error, negative_errno(), "Failed to extend %s: %m", t->path);
		size = MAX((uint64_t)st.st_size, p->span);
	}

	/* Old boot code and partition tables go first: from here until the very end,
	 * the device has none, so an interruption leaves nothing that boots half-written. */
	r = zero_range(p->fd, t, 0, p->head_len, sent);
	if (r >= 0 && fdatasync(p->fd) < 0)
		r = negative_errno();
	if (r < 0)
		return set_error(p->ret_error, r, "Failed to clear the first MiB of %s: %m", t->path);

	/* An old backup GPT at the device's end would outlive the image, and a firmware
	 * or blkid that finds it may take the old partitions for the new ones. */
	if (size > p->span) {
		from = MAX(p->span, size - MIN(size, FLASH_TAIL_SIZE));
		r = zero_range(p->fd, t, from, size - from, sent);
		if (r < 0)
			return set_error(p->ret_error, r, "Failed to clear the last MiB of %s: %m", t->path);
	}
	return p->zero_holes ? zero_all_holes(p, quiet, stats, sent) : 0;
}

/* The first MiB's data, which makes the device bootable; its holes are zeros since
 * the start. In whole pages: the page cache never reads the device to fill one. */
static int write_head(const struct flash_pass *p, uint64_t *sent) {
	uint64_t end = 0;

	for (size_t i = 0; i < p->n_ext && p->ext[i].offset < p->head_len; i++) {
		uint64_t a = MAX(p->ext[i].offset / FLASH_IO_ALIGN * FLASH_IO_ALIGN, end);
		uint64_t b = MIN(ALIGN_TO(p->ext[i].offset + p->ext[i].length, FLASH_IO_ALIGN), p->head_len);
		int r;

		if (!p->ext[i].data || a >= b)
			continue;
		r = loop_pwrite(p->fd, p->head + a, b - a, a);
		if (r < 0)
			return r;
		*sent += b - a;
		end = b;
	}
	return fsync(p->fd) < 0 ? negative_errno() : 0;
}

/* A medium that claims more than it holds (a fake-capacity stick) often wraps at a
 * power of two: what is written at 2^k lands at 0. The data past the first MiB was
 * read back before the first MiB was written over such a place, so now one block of
 * data in each window [2^k, 2^k + 1 MiB) is read again (a few KiB in all). */
static int verify_wrap(struct flash_pass *p, struct flash_stats *stats) {
	for (uint64_t w = FLASH_HEAD_SIZE; w < p->span && p->head_len == FLASH_HEAD_SIZE; w *= 2) {
		for (size_t i = extent_at(p->ext, p->n_ext, w); i < p->n_ext && p->ext[i].offset < w + FLASH_HEAD_SIZE; i++) {
			uint64_t a = MAX(p->ext[i].offset, w) / FLASH_IO_ALIGN * FLASH_IO_ALIGN;
			uint64_t b = MIN(a + FLASH_IO_ALIGN, p->ext[i].offset + p->ext[i].length);
			int r;

			if (!p->ext[i].data || a >= b)
				continue;
			r = verify_range(p, a, b, true, stats);
			if (r == -EBADMSG)
				stats->wraps = true;
			if (r < 0)
				return r;
			break;
		}
	}
	return 0;
}

int flash_write(int image_fd, int fd, const struct flash_target *t, const struct flash_options *opts,
		struct flash_stats *stats, char **ret_error) {
	_cleanup_free_ struct flash_extent *ext = NULL;
	_cleanup_free_ uint8_t *head = NULL;
	struct flash_pass p = { .image_fd = image_fd, .fd = fd, .t = t, .zero_holes = flash_zeroes_holes(t, opts->holes),
				.bad = UINT64_MAX, .delay_ms = opts->test_delay_ms, .lock = PTHREAD_MUTEX_INITIALIZER,
				.ret_error = ret_error };
	uint64_t sent = 0; /* zeros, and the first MiB's data */
	double t0 = now_seconds();
	struct flusher f;
	int r, flush_r, flags;

	*stats = (struct flash_stats){};
	r = pass_load_image(&p, stats, &ext);
	if (r < 0)
		return r;
	if (posix_memalign((void **)&head, 4096, ALIGN_TO(p.head_len, 4096)) != 0)
		return -ENOMEM;
	memset(head, 0, p.head_len); /* stays zero where chunk 0 has no data */
	p.head = head;

	r = clear_before_data(&p, opts->quiet, stats, &sent);
	if (r < 0)
		return r;
	log_debug("flash: cleared, %" PRIu64 " bytes of holes zeroed: %.2f s", stats->zeroed, now_seconds() - t0);

	flags = fcntl(fd, F_GETFL);
	p.direct = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) >= 0;
	if (!p.direct)
		log_debug_errno(-errno, "No O_DIRECT on %s, writing through the page cache: %m", t->path);
	r = run_pass(&p, write_chunk, 0, p.span,
		     p.zero_holes ? "writing data (holes zeroed)" : "writing data (holes left as they are)",
		     pass_total(&p, p.head_len, p.span, false), opts->quiet);
	if (p.direct)
		(void)fcntl(fd, F_SETFL, flags);
	if (r < 0)
		return r;
	log_debug("flash: wrote %" PRIu64 " bytes of data: %.2f s", atomic_load(&p.done), now_seconds() - t0);
	stats->zeroed += p.head_len - pass_total(&p, 0, p.head_len, false);
	stats->left = p.zero_holes ? 0 : p.span - p.head_len - pass_total(&p, p.head_len, p.span, false);

	/* Every write has completed, so reading back now still catches a medium that
	 * maps two offsets to one place (fake capacity). The flush runs meanwhile: on a
	 * loop device it is the disk's work, the read-back the CPU's. (Flushing earlier,
	 * while writing, stalled a loop device's queue: 0.15 s more in all.) */
	flusher_start(&f, fd);
	r = opts->verify && p.span > p.head_len ? verify_range(&p, p.head_len, p.span, opts->quiet, stats) : 0;
	flush_r = flusher_finish(&f);
	if (r < 0)
		return r;
	if (flush_r < 0)
		return set_error(ret_error, flush_r, "Failed to flush %s: %m", t->path);
	log_debug("flash: flushed%s past the first MiB: %.2f s", opts->verify ? ", verified" : "", now_seconds() - t0);

	/* everything else is on the medium: now the first MiB, which makes it bootable */
	r = write_head(&p, &sent);
	stats->written = atomic_load(&p.written) + sent;
	if (r < 0)
		return set_error(ret_error, r, "Failed to write the first MiB of %s: %m", t->path);
	log_debug("flash: first MiB written: %.2f s", now_seconds() - t0);
	if (!opts->verify)
		return 0;
	r = verify_range(&p, 0, p.head_len, true, stats);
	if (r >= 0)
		r = verify_wrap(&p, stats);
	if (r < 0)
		return r;
	stats->verified = true;
	return 0;
}
