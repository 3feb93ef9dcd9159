/* The memory floor of Vigil's C libraries: a program that does what Vigil's
 * request and probe paths do with them (libmicrohttpd pool of 4 serving a
 * constant body, one libcurl request, one libpq query, an OpenSSL HMAC and
 * TLS context) and nothing else. scripts/memory-floor links it alone and
 * under Swift, to show where resident memory comes from.
 * Usage: floor PORT CONNINFO AWS_URL */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <microhttpd.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>
#include <openssl/hmac.h>

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state) {
  static const char body[] = "{\"status\":\"healthy\"}";
  if (*state == NULL) { *state = (void *)1; return MHD_YES; } /* queue on the second call: keep-alive */
  struct MHD_Response *response =
      MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  enum MHD_Result result = MHD_queue_response(connection, 200, response);
  MHD_destroy_response(response);
  return result;
}

static size_t discard(char *data, size_t size, size_t count, void *user) { return size * count; }

int floor_main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: floor PORT CONNINFO AWS_URL\n"); return 2; }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct MHD_Daemon *daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL,
                                               handle, NULL, MHD_OPTION_THREAD_POOL_SIZE, 4, MHD_OPTION_END);
  CURL *curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, argv[3]);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  CURLcode fetched = curl_easy_perform(curl);
  PGconn *pg = PQconnectdb(argv[2]);
  PQclear(PQexec(pg, "SELECT 1"));
  unsigned char mac[32];
  unsigned int length;
  HMAC(EVP_sha256(), "key", 3, (const unsigned char *)"data", 4, mac, &length);
  SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_default_verify_paths(tls);
  printf("ready daemon=%d curl=%d postgres=%d\n", daemon != NULL, fetched, PQstatus(pg));
  fflush(stdout);
  pause();
  return 0;
}

#ifndef FLOOR_LIBRARY
int main(int argc, char **argv) { return floor_main(argc, argv); }
#endif
