/* libcurl adapter: fetch's streaming GET and DDNS's small requests; CURLcode and HTTP status become -errno
 * here and nowhere else. libcurl is loaded with dlopen() on the first transfer: it and the libraries it pulls
 * in (TLS, HTTP/2, IDN, LDAP, SSH, Kerberos) cost mlrig ~35 ms of start-up with a cold page cache, and the
 * agent must boot on a rig without it. The agent is compiled against bullseye's libcurl 7.74 headers. */
#define CURL_DISABLE_TYPECHECK   /* calls go through the pointers below, not the header's checking macros */
#define CURL_DISABLE_DEPRECATION /* CURLOPT_PROTOCOLS: the only way before libcurl 7.85 (Ubuntu 20.04 has 7.68) */
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl-util.h"
#include "dlopen-util.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"

#define LIBCURL_SONAME "libcurl.so.4"

static struct {
	void *handle;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	time_t (*getdate)(const char *p, const time_t *unused);
	char *(*version)(void);
	curl_version_info_data *(*version_info)(CURLversion age);
} lc;

static void easy_cleanupp(CURL **h) {
	if (*h)
		lc.easy_cleanup(*h);
}

static void slist_free_allp(struct curl_slist **l) {
	if (*l)
		lc.slist_free_all(*l);
}

/* Loads and initialises libcurl once; on failure, *ret_detail says what the loader said. */
static int curl_util_load(char **ret_detail) {
	static const char *const names[] = { LIBCURL_SONAME, NULL };
	const struct dlsym_entry syms[] = {
		{ "curl_global_init", (void **)&lc.global_init, false },
		{ "curl_easy_init", (void **)&lc.easy_init, false },
		{ "curl_easy_setopt", (void **)&lc.easy_setopt, false },
		{ "curl_easy_perform", (void **)&lc.easy_perform, false },
		{ "curl_easy_getinfo", (void **)&lc.easy_getinfo, false },
		{ "curl_easy_cleanup", (void **)&lc.easy_cleanup, false },
		{ "curl_easy_strerror", (void **)&lc.easy_strerror, false },
		{ "curl_slist_append", (void **)&lc.slist_append, false },
		{ "curl_slist_free_all", (void **)&lc.slist_free_all, false },
		{ "curl_getdate", (void **)&lc.getdate, false },
		{ "curl_version", (void **)&lc.version, false },
		{ "curl_version_info", (void **)&lc.version_info, false },
	};
	void *h;
	int r;

	if (lc.handle)
		return 0;
	r = dlopen_resolve(names, syms, ELEMENTSOF(syms), &h, ret_detail);
	if (r < 0)
		return r;
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlclose(h);
		return -ENOMEM;
	}
	lc.handle = h;
	return 0;
}

static int status_to_errno(long status) {
	switch (status) {
	case 404:
	case 410:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 416:
		return -ERANGE;
	case 408:
	case 429:
		return -EAGAIN;
	default:
		return status >= 500 ? -EAGAIN : -EBADMSG;
	}
}

static int code_to_errno(CURLcode code, long status) {
	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_HTTP_RETURNED_ERROR:
		return status_to_errno(status);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -ENXIO;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_TOO_MANY_REDIRECTS:
		return -ELOOP;
	case CURLE_WEIRD_SERVER_REPLY:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

bool curl_util_error_is_transient(int r) {
	return r == -ECONNRESET || r == -ETIMEDOUT || r == -EAGAIN || r == -ECONNREFUSED;
}

const char *curl_util_error_to_string(int r) {
	switch (r) {
	case -ENOENT: return "HTTP 404: the file is not on the server (wrong name, or the release moved)";
	case -EACCES: return "HTTP 401/403: the server refuses access";
	case -ERANGE: return "HTTP 416: the requested range is past the end of the file";
	case -EAGAIN: return "the server is busy or failing (HTTP 5xx or 429)";
	case -EBADMSG: return "the server answered with an HTTP error";
	case -ENXIO: return "DNS: the host name could not be resolved (no network, or a typo in the URL)";
	case -ECONNREFUSED: return "could not connect to the server";
	case -EPROTO: return "TLS: the secure connection failed (certificate not trusted, or not an HTTPS server)";
	case -ETIMEDOUT: return "the transfer timed out";
	case -ECONNRESET: return "the connection dropped";
	case -EINVAL: return "bad or unsupported URL";
	case -ELIBACC: return "libcurl (" LIBCURL_SONAME ") could not be loaded: install libcurl4";
	case -EFBIG: return "the reply is longer than any answer this client expects";
	case -ELOOP: return "the server redirects in a loop (more than 10 redirects)";
	default: return strerror(-r);
	}
}

int curl_util_parse_content_range(const char *value, uint64_t *ret_start, uint64_t *ret_end,
				  uint64_t *ret_total) {
	uint64_t start = UINT64_MAX, end = UINT64_MAX, total = UINT64_MAX;
	char buf[96], *dash, *slash, *p;

	while (*value == ' ')
		value++;
	if (strncasecmp(value, "bytes ", 6) != 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", value + 6);
	string_strip(buf);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (strcmp(slash + 1, "*") != 0 && safe_atou64(slash + 1, &total) < 0)
		return -EINVAL;
	if (strcmp(buf, "*") != 0) {
		dash = strchr(buf, '-');
		if (!dash)
			return -EINVAL;
		*dash = 0;
		p = dash + 1;
		if (safe_atou64(buf, &start) < 0 || safe_atou64(p, &end) < 0 || end < start)
			return -EINVAL;
		if (total != UINT64_MAX && end >= total)
			return -EINVAL;
	}
	*ret_start = start;
	*ret_end = end;
	*ret_total = total;
	return 0;
}

struct transfer {
	CURL *h;
	const struct curl_transfer_ops *ops;
	void *userdata;
	struct curl_headers hdr;
	bool announced;
	int error; /* a callback's -errno, which libcurl can only report as a write error */
};

void curl_util_header_line(struct curl_headers *h, const char *data, size_t n) {
	char line[256];

	snprintf(line, sizeof(line), "%.*s", (int)MIN(n, sizeof(line) - 1), data);
	/* a new status line: a redirect or a 100 Continue came before, forget its headers */
	if (strncmp(line, "HTTP/", 5) == 0) {
		h->resp.has_range = false;
		h->resp.length = UINT64_MAX;
		h->retry_after[0] = h->date[0] = 0;
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		snprintf(h->retry_after, sizeof(h->retry_after), "%s", string_strip(line + 12));
	} else if (strncasecmp(line, "Date:", 5) == 0) {
		snprintf(h->date, sizeof(h->date), "%s", string_strip(line + 5));
	} else if (strncasecmp(line, "Content-Range:", 14) == 0) {
		h->resp.has_range = curl_util_parse_content_range(line + 14, &h->resp.range_start, &h->resp.range_end,
								  &h->resp.range_total) >= 0;
	} else if (strncasecmp(line, "Content-Length:", 15) == 0) {
		uint64_t v;

		if (safe_atou64(string_strip(line + 15), &v) >= 0)
			h->resp.length = v;
	}
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userdata) {
	struct transfer *t = userdata;

	curl_util_header_line(&t->hdr, data, size * nmemb);
	return size * nmemb;
}

static int announce(struct transfer *t) {
	if (t->announced)
		return 0;
	t->announced = true;
	lc.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->hdr.resp.status);
	return t->ops->on_response ? t->ops->on_response(t->userdata, &t->hdr.resp) : 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata) {
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	int r;

	r = announce(t);
	if (r >= 0)
		r = t->ops->on_data(t->userdata, data, n);
	if (r < 0) {
		t->error = r;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	return n;
}

int curl_util_version(char **ret, char **ret_detail) {
	const curl_version_info_data *info;
	const char *all, *rest;
	char *v;
	int r;

	r = curl_util_load(ret_detail);
	if (r < 0)
		return r;
	info = lc.version_info(CURLVERSION_NOW);
	all = lc.version();
	/* curl_version() is "libcurl/7.88.1 OpenSSL/3.0.15 zlib/1.2.13 ...": keep what it was built with */
	rest = all ? strchr(all, ' ') : NULL;
	if (rest && rest[1]) {
		if (asprintf(&v, "%s (%s)", info->version, rest + 1) < 0)
			return -ENOMEM;
	} else if (!(v = strdup(info->version)))
		return -ENOMEM;
	*ret = v;
	return 0;
}

/* Only http and https, for the transfer and for redirects; PROTOCOLS_STR when the library has it. */
static void restrict_protocols(CURL *h) {
#if LIBCURL_VERSION_NUM >= 0x075500
	if (lc.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	    lc.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK)
		return;
#endif
	lc.easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	lc.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
}

/* What both kinds of transfer set: the URL, callbacks, time limits. */
static int setup(CURL *h, struct transfer *t, const char *url, const char *user_agent, char *errbuf) {
	t->h = h;
	if (lc.easy_setopt(h, CURLOPT_URL, url) != CURLE_OK)
		return -EINVAL;
	lc.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(h, CURLOPT_USERAGENT, user_agent ? user_agent : "mlrig/" MLRIG_VERSION);
	lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	restrict_protocols(h);
	lc.easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	lc.easy_setopt(h, CURLOPT_HEADERDATA, t);
	lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	lc.easy_setopt(h, CURLOPT_WRITEDATA, t);
	return 0;
}

/* Loads libcurl, makes a handle and sets what every transfer shares. */
static int start(CURL **ret, struct transfer *t, const char *url, const char *user_agent, char *errbuf,
		 char **ret_detail) {
	CURL *h;
	int r;

	r = curl_util_load(ret_detail);
	if (r < 0)
		return r;
	h = lc.easy_init();
	if (!h)
		return -ENOMEM;
	r = setup(h, t, url, user_agent, errbuf);
	if (r < 0) {
		lc.easy_cleanup(h);
		return r;
	}
	*ret = h;
	return 0;
}

/* The URL for a debug line: scheme, host and path, never the query (tokens) or a user:password@. */
static void log_failure(const char *url, CURLcode code, long status, const char *errbuf) {
	const char *sep = strstr(url, "://"), *host = sep ? sep + 3 : url, *end, *at;

	end = host + strcspn(host, "?#");
	at = memchr(host, '@', (size_t)(end - host));
	log_debug("%.*s%.*s: %s (HTTP %ld): %s", (int)(host - url), url, (int)(end - (at ? at + 1 : host)),
		  at ? at + 1 : host, lc.easy_strerror(code), status, errbuf);
}

int curl_util_get(const char *url, uint64_t range_start, const struct curl_transfer_ops *ops, void *userdata,
		  char **ret_detail) {
	_cleanup_(easy_cleanupp) CURL *h = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", range[32];
	struct transfer t = { .ops = ops, .userdata = userdata, .hdr.resp.length = UINT64_MAX };
	CURLcode code;
	int r;

	r = start(&h, &t, url, NULL, errbuf, ret_detail);
	if (r < 0)
		return r;
	lc.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	lc.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	lc.easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	/* a stalled transfer: under 1 KiB/s for a minute gives up (and is retried) */
	lc.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	lc.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	lc.easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024L);
	if (range_start > 0) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", range_start);
		lc.easy_setopt(h, CURLOPT_RANGE, range);
	}

	code = lc.easy_perform(h);
	if (code == CURLE_OK) {
		r = announce(&t); /* an empty body never reached write_cb */
		if (r < 0)
			return r;
		return 0;
	}
	if (code == CURLE_WRITE_ERROR && t.error < 0)
		return t.error;
	lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.hdr.resp.status);
	r = code_to_errno(code, t.hdr.resp.status);
	log_failure(url, code, t.hdr.resp.status, errbuf);
	if (ret_detail)
		*ret_detail = strdup(errbuf[0] ? errbuf : lc.easy_strerror(code));
	return r;
}

/* The reply in memory, up to the cap. */
struct capture {
	char *data;
	size_t size, max;
};

static int capture_on_data(void *userdata, const void *data, size_t size) {
	struct capture *c = userdata;
	char *n;

	if (size > c->max - c->size)
		return -EFBIG;
	n = realloc(c->data, c->size + size + 1);
	if (!n)
		return -ENOMEM;
	memcpy(n + c->size, data, size);
	c->size += size;
	n[c->size] = 0;
	c->data = n;
	return 0;
}

/* Retry-After: delta-seconds, or an HTTP date taken relative to the reply's own Date: (so a
 * wrong clock on either side does not matter); 0 when absent or unreadable. */
static uint64_t retry_after_seconds(const struct transfer *t) {
	uint64_t v;
	time_t when, date;

	if (!t->hdr.retry_after[0])
		return 0;
	if (safe_atou64(t->hdr.retry_after, &v) >= 0)
		return v;
	when = lc.getdate(t->hdr.retry_after, NULL);
	date = t->hdr.date[0] ? lc.getdate(t->hdr.date, NULL) : (time_t)now_wall();
	return when > 0 && date > 0 && when > date ? (uint64_t)(when - date) : 0;
}

int curl_util_request(const struct curl_request *req, struct curl_reply *ret, char **ret_detail) {
	static const struct curl_transfer_ops ops = { NULL, capture_on_data };
	_cleanup_(easy_cleanupp) CURL *h = NULL;
	_cleanup_(slist_free_allp) struct curl_slist *headers = NULL;
	struct capture c = { .max = req->max_reply };
	struct transfer t = { .ops = &ops, .userdata = &c, .hdr.resp.length = UINT64_MAX };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode code;
	int r;

	r = start(&h, &t, req->url, req->user_agent, errbuf, ret_detail);
	if (r < 0)
		return r;
	for (char *const *l = req->headers; l && *l; l++) {
		struct curl_slist *n = lc.slist_append(headers, *l);

		if (!n)
			return -ENOMEM;
		headers = n;
	}
	if (headers)
		lc.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (req->user) {
		lc.easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		lc.easy_setopt(h, CURLOPT_USERNAME, req->user);
		lc.easy_setopt(h, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (req->body) {
		lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_size);
		lc.easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	}
	if (req->method)
		lc.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->family == AF_INET || req->family == AF_INET6)
		lc.easy_setopt(h, CURLOPT_IPRESOLVE, req->family == AF_INET ? (long)CURL_IPRESOLVE_V4 : (long)CURL_IPRESOLVE_V6);
	if (req->timeout_s > 0)
		lc.easy_setopt(h, CURLOPT_TIMEOUT, req->timeout_s);

	code = lc.easy_perform(h);
	if (code == CURLE_WRITE_ERROR && t.error < 0) {
		r = t.error;
		goto fail;
	}
	if (code != CURLE_OK) {
		lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.hdr.resp.status);
		r = code_to_errno(code, t.hdr.resp.status);
		log_failure(req->url, code, t.hdr.resp.status, errbuf);
		if (ret_detail)
			*ret_detail = strdup(errbuf[0] ? errbuf : lc.easy_strerror(code));
		goto fail;
	}
	lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.hdr.resp.status);
	if (!c.data && !(c.data = strdup(""))) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = (struct curl_reply){ .status = t.hdr.resp.status, .body = c.data, .size = c.size,
				    .retry_after = retry_after_seconds(&t) };
	return 0;
fail:
	free(c.data);
	return r;
}

void curl_reply_release(struct curl_reply *r) {
	free(r->body);
	*r = (struct curl_reply){};
}
