#ifndef VIGIL_CMICROHTTPD_SHIM_H
#define VIGIL_CMICROHTTPD_SHIM_H
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>
/* libmicrohttpd's TLS is GnuTLS: only the client-certificate check below uses it. */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* MHD_start_daemon is variadic, which Swift cannot call: this fixed-arity
   wrapper passes exactly the options Vigil uses, as an option array. The
   listening socket is a duplicate of Vigil's own (bound and listening),
   which libmicrohttpd may close (it does when a start fails half-way): a
   new daemon can take the port over from an old one (a replaced
   certificate) without it ever closing. With `tls_key` and `tls_cert` (PEM text) the daemon serves
   HTTPS; `tls_trust` (PEM CAs) makes it ask for client certificates;
   `tls_priorities` is a GnuTLS priority string (versions, ciphers). */
static inline struct MHD_Daemon *vigil_mhd_start(
    unsigned int flags, int listen_fd,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    unsigned int thread_pool_size, unsigned int connection_timeout_s,
    unsigned int connection_limit, unsigned int per_ip_limit, size_t connection_memory_limit,
    const char *tls_key, const char *tls_cert, const char *tls_trust, const char *tls_priorities) {
  struct MHD_OptionItem options[15];
  int n = 0;
  if (tls_key && tls_cert) {
    flags |= MHD_USE_TLS;
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)tls_key};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)tls_cert};
    if (tls_trust) options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)tls_trust};
    if (tls_priorities) options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities};
  }
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, thread_pool_size, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, connection_limit, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)connection_memory_limit, NULL};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_cls};
  options[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                          MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/* The client certificate of a TLS connection: 0 none presented, 1 verified
   against the daemon's trust (chain, validity dates, and an extended key
   usage that allows TLS client authentication, as Go checks it: a server
   certificate from the same CA does not pass), 2 presented but not
   verified. libmicrohttpd asks for it (with a trust set) but leaves the
   check to the application. */
static inline int vigil_mhd_client_certificate(struct MHD_Connection *connection) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == NULL || info->tls_session == NULL) return 0;
  gnutls_session_t session = (gnutls_session_t)info->tls_session;
  unsigned int count = 0;
  if (gnutls_certificate_get_peers(session, &count) == NULL || count == 0) return 0;
  gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
  unsigned int status = 0;
  if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS || status != 0) return 2;
  return 1;
}

/* Basic auth: 1 and the user name and password (free both with MHD_free)
   when the request carries them. */
static inline int vigil_mhd_basic_auth(struct MHD_Connection *connection, char **user, char **password) {
  *user = MHD_basic_auth_get_username_password(connection, password);
  return *user != NULL && *password != NULL;
}

/* Whether GnuTLS takes this key and certificate (PEM) as a pair and the
   trust (PEM CAs, may be NULL) as at least one CA: 0 yes, else a GnuTLS
   error code. Checked before a daemon starts, so a certificate renewed
   without its key is refused with a reason instead of a failed start. */
static inline int vigil_tls_material_check(const char *key, const char *cert, const char *trust) {
  gnutls_certificate_credentials_t credentials;
  int result = gnutls_certificate_allocate_credentials(&credentials);
  if (result != GNUTLS_E_SUCCESS) return result;
  gnutls_datum_t key_datum = {(unsigned char *)key, (unsigned int)strlen(key)};
  gnutls_datum_t cert_datum = {(unsigned char *)cert, (unsigned int)strlen(cert)};
  result = gnutls_certificate_set_x509_key_mem(credentials, &cert_datum, &key_datum, GNUTLS_X509_FMT_PEM);
  if (result == GNUTLS_E_SUCCESS && trust != NULL) {
    gnutls_datum_t trust_datum = {(unsigned char *)trust, (unsigned int)strlen(trust)};
    int count = gnutls_certificate_set_x509_trust_mem(credentials, &trust_datum, GNUTLS_X509_FMT_PEM);
    result = count > 0 ? GNUTLS_E_SUCCESS : (count < 0 ? count : GNUTLS_E_NO_CERTIFICATE_FOUND);
  }
  gnutls_certificate_free_credentials(credentials);
  return result;
}
#endif
