#ifndef VIGIL_COPENSSL_SHIM_H
#define VIGIL_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* SSL_set_tlsext_host_name is a macro over SSL_ctrl: give Swift a function. */
static inline long vigil_ssl_set_sni(SSL *ssl, const char *name) {
  return SSL_set_tlsext_host_name(ssl, name);
}

/* OpenSSL tears itself down in an atexit handler; a refresh or probe thread
   still inside it then crashes the exit (seen under ThreadSanitizer:
   `vigil secrets get` exiting beside a background refresh). Opt out, as
   long-lived multi-threaded programs should. The macro's type does not
   import: this fixes it. */
static inline int vigil_openssl_keep_at_exit(void) {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}
#endif
