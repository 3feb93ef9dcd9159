#ifndef VIGIL_CCURL_SHIM_H
#define VIGIL_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt / curl_easy_getinfo are variadic and have no va_list
   form: one typed wrapper per argument kind. */
typedef size_t (*vigil_curl_write_cb)(char *, size_t, size_t, void *);

static inline CURLcode vigil_curl_set_long(CURL *h, CURLoption o, long v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode vigil_curl_set_string(CURL *h, CURLoption o, const char *v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode vigil_curl_set_pointer(CURL *h, CURLoption o, void *v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode vigil_curl_set_write_cb(CURL *h, CURLoption o, vigil_curl_write_cb v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode vigil_curl_get_long(CURL *h, CURLINFO i, long *v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLcode vigil_curl_get_double(CURL *h, CURLINFO i, double *v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLcode vigil_curl_get_certinfo(CURL *h, struct curl_certinfo **v) {
  return curl_easy_getinfo(h, CURLINFO_CERTINFO, v);
}
#endif
