/* libcurl adapter: a streaming GET with optional Range (fetch) and a small request with headers, a body
 * and a capped reply (DDNS); CURLcode and HTTP status become -errno here and nowhere else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a finished transfer's failure becomes:
 *   -ENOENT   HTTP 404/410            -EACCES    HTTP 401/403
 *   -ERANGE   HTTP 416 (Range past the end: the partial file is complete)
 *   -EAGAIN   HTTP 408/429/5xx        -EBADMSG   other HTTP errors
 *   -ENXIO    DNS: host not found     -ECONNREFUSED  could not connect
 *   -EPROTO   TLS handshake or certificate failure
 *   -ETIMEDOUT, -ECONNRESET (connection dropped mid-way), -EINVAL (bad URL),
 *   -ENOMEM, -ECANCELED, -ELIBACC (libcurl could not be loaded: *ret_detail says why),
 *   -EFBIG (curl_util_request: the reply is longer than max_reply), -ELOOP (more than 10 redirects),
 *   and what a callback returned. */

struct curl_response {
	long status;          /* HTTP status of the final response (after redirects) */
	bool has_range;       /* a Content-Range header came with it */
	uint64_t range_start; /* Content-Range: bytes START-END/TOTAL */
	uint64_t range_end;
	uint64_t range_total; /* UINT64_MAX for "*" */
	uint64_t length;      /* Content-Length, UINT64_MAX when unknown */
};

struct curl_transfer_ops {
	/* Once per transfer, before the first body byte (or at the end of a bodiless reply). */
	int (*on_response)(void *userdata, const struct curl_response *resp);
	/* Body bytes; a negative return aborts the transfer with that error. */
	int (*on_data)(void *userdata, const void *data, size_t size);
};

/* GETs url, from byte range_start on when it is > 0. On failure *ret_detail (may
 * be NULL) gets libcurl's own words, for the message. */
int curl_util_get(const char *url, uint64_t range_start, const struct curl_transfer_ops *ops, void *userdata,
		  char **ret_detail);

/* A request whose reply the caller reads whatever its HTTP status: a DDNS server answers
 * "badauth" with 401 and "911" with 200, so the status alone says too little. */
struct curl_request {
	const char *method;        /* NULL: GET, or POST when there is a body */
	const char *url;           /* never logged past its path: queries carry tokens (DuckDNS) */
	char *const *headers;      /* "Name: value" lines, NULL-terminated, or NULL */
	const char *user;          /* HTTP basic authentication, or NULL */
	const char *password;
	const char *user_agent;    /* NULL: "mlrig/VERSION" */
	const void *body;          /* sent as is, or NULL */
	size_t body_size;
	int family;                /* AF_UNSPEC, or AF_INET / AF_INET6 to resolve the host to that family only */
	size_t max_reply;          /* reply bytes kept; a longer reply is -EFBIG */
	long timeout_s;            /* the whole transfer */
};

struct curl_reply {
	long status;               /* HTTP status */
	char *body;                /* NUL-terminated (a NUL inside stays: size says where the body ends) */
	size_t size;
	uint64_t retry_after;      /* Retry-After in seconds (a date is taken relative to the reply's Date:), 0 if none */
};

/* Sends req without following redirects; 0 with *ret filled for any HTTP status, or a
 * transfer error from the table above. */
int curl_util_request(const struct curl_request *req, struct curl_reply *ret, char **ret_detail);
void curl_reply_release(struct curl_reply *r);

/* The loaded libcurl's version and what it was built with, "7.88.1 (OpenSSL/3.0.15 zlib/1.2.13 ...)";
 * -ELIBACC (with *ret_detail, the loader's words) when it cannot be loaded. */
int curl_util_version(char **ret, char **ret_detail);

/* Worth another try after a pause: dropped connections, timeouts, 5xx. */
bool curl_util_error_is_transient(int r);
/* What the error means to a user ("HTTP 404: not on the server"), from the table above. */
const char *curl_util_error_to_string(int r);

/* What a response's header lines say; a status line (a redirect's, a 100 Continue's) forgets
 * what came before, so after the last line it is the final response's. */
struct curl_headers {
	struct curl_response resp;
	char retry_after[64], date[64]; /* the values, for curl_util_request */
};
/* One header line (as libcurl hands it: "Name: value\r\n", not NUL-terminated) into h. */
void curl_util_header_line(struct curl_headers *h, const char *data, size_t n);

/* Parses a Content-Range value: "bytes 100-199/1000" (a 416 reply has an asterisk for the range). */
int curl_util_parse_content_range(const char *value, uint64_t *ret_start, uint64_t *ret_end,
				  uint64_t *ret_total);
