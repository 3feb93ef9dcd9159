#ifndef VIGIL_CMICROHTTPD_SHIM_H
#define VIGIL_CMICROHTTPD_SHIM_H
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>
/* libmicrohttpd's TLS is GnuTLS: Vigil gives each connection its credentials
   and priorities, and checks client certificates, through it. */
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

/* MHD_start_daemon is variadic, which Swift cannot call: this fixed-arity
   wrapper passes exactly the options Vigil uses, as an option array. The
   listening socket is a duplicate of Vigil's own (bound and listening),
   which libmicrohttpd may close (it does at stop, and when a start fails
   half-way). With `tls` the daemon serves HTTPS with no certificate of its
   own: `notify` hands each connection a vigil_tls_identity before its
   handshake (vigil_tls_identity_use), and a connection that did not get one
   fails its handshake in vigil_tls_no_certificate rather than falling back
   to older material. */
static inline int vigil_tls_no_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                                           gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey) {
  (void)session; (void)req_ca_rdn; (void)nreqs; (void)pk_algos; (void)pk_algos_length;
  (void)pcert; (void)pcert_length; (void)privkey;
  return -1;
}

static inline struct MHD_Daemon *vigil_mhd_start(
    unsigned int flags, int listen_fd,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    MHD_NotifyConnectionCallback notify, void *notify_cls,
    unsigned int thread_pool_size, unsigned int connection_timeout_s,
    unsigned int connection_limit, unsigned int per_ip_limit, size_t connection_memory_limit, int tls) {
  struct MHD_OptionItem options[12];
  int n = 0;
  if (tls) {
    flags |= MHD_USE_TLS;
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)&vigil_tls_no_certificate};
  }
  if (notify) options[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify, notify_cls};
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

/* 1 for the notification of a connection that starts, 0 for one that
   closes (the enum's imported case names are the importer's guess). */
static inline int vigil_mhd_connection_started(enum MHD_ConnectionNotificationCode code) {
  return code == MHD_CONNECTION_NOTIFY_STARTED;
}

/* The pointer the connection callback left in the connection's socket
   context (its TLS identity), or NULL. */
static inline void *vigil_mhd_socket_context(struct MHD_Connection *connection) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info == NULL ? NULL : info->socket_context;
}

/* The client certificate of a TLS connection: 0 none presented, 1 verified
   against the client CAs of the vigil_tls_identity the connection shook
   hands with (the session's credentials; the daemon has none of its own:
   the caller makes sure that identity's client policy is still the
   current one) -- chain, validity dates, and an extended key usage that
   allows TLS client authentication, as Go checks it: a server certificate
   from the same CA does not pass -- 2 presented but not verified. The
   identity asks for it (when it has client CAs) but leaves the check to
   the application. */
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

/* One TLS configuration as GnuTLS takes it: credentials (key and
   certificate chain, client CAs when client certificates are asked for)
   and priorities (versions, ciphers). Built once per configuration, shared
   read-only by every connection that started while it was current (GnuTLS
   keeps a pointer to the credentials, not a copy: they must outlive those
   connections; priorities are reference-counted by GnuTLS itself). */
struct vigil_tls_identity {
  gnutls_certificate_credentials_t credentials;
  gnutls_priority_t priorities;
  int requests_certificate;
};

static inline void vigil_tls_identity_free(struct vigil_tls_identity *identity) {
  if (identity->credentials) gnutls_certificate_free_credentials(identity->credentials);
  if (identity->priorities) gnutls_priority_deinit(identity->priorities);
  free(identity);
}

/* The identity for this key and certificate (PEM; GnuTLS checks that they
   are a pair, so a certificate renewed without its key is refused with a
   reason), trust (PEM CAs, may be NULL; else at least one CA) and
   priorities (NULL: "NORMAL", libmicrohttpd's default). NULL, a GnuTLS
   error code in `error` and which part GnuTLS refused in `part` (1 the key
   and certificate, 2 the trust, 3 the priorities, 0 none: memory) when it
   refuses one. */
static inline struct vigil_tls_identity *vigil_tls_identity_new(const char *key, const char *cert, const char *trust,
                                                                const char *priorities, int *error, int *part) {
  *part = 0;
  struct vigil_tls_identity *identity = calloc(1, sizeof *identity);
  if (identity == NULL) {
    *error = GNUTLS_E_MEMORY_ERROR;
    return NULL;
  }
  int result = gnutls_certificate_allocate_credentials(&identity->credentials);
  if (result == GNUTLS_E_SUCCESS) {
    *part = 1;
    gnutls_datum_t key_datum = {(unsigned char *)key, (unsigned int)strlen(key)};
    gnutls_datum_t cert_datum = {(unsigned char *)cert, (unsigned int)strlen(cert)};
    result = gnutls_certificate_set_x509_key_mem(identity->credentials, &cert_datum, &key_datum, GNUTLS_X509_FMT_PEM);
  }
  if (result == GNUTLS_E_SUCCESS && trust != NULL) {
    *part = 2;
    gnutls_datum_t trust_datum = {(unsigned char *)trust, (unsigned int)strlen(trust)};
    int count = gnutls_certificate_set_x509_trust_mem(identity->credentials, &trust_datum, GNUTLS_X509_FMT_PEM);
    result = count > 0 ? GNUTLS_E_SUCCESS : (count < 0 ? count : GNUTLS_E_NO_CERTIFICATE_FOUND);
    identity->requests_certificate = 1;
  }
  if (result == GNUTLS_E_SUCCESS) {
    *part = 3;
    result = gnutls_priority_init(&identity->priorities, priorities ? priorities : "NORMAL", NULL);
  }
  if (result != GNUTLS_E_SUCCESS) {
    vigil_tls_identity_free(identity);
    *error = result;
    return NULL;
  }
  return identity;
}

/* Gives a connection that has not shaken hands yet this identity's
   priorities and credentials, and asks for a client certificate when it
   has client CAs (libmicrohttpd's rule, per connection here): 0, else a
   GnuTLS error code. Called from the connection-start notification, which
   libmicrohttpd sends after it set up the TLS session and before any byte
   is read. */
static inline int vigil_tls_identity_use(struct MHD_Connection *connection, const struct vigil_tls_identity *identity) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == NULL || info->tls_session == NULL) return GNUTLS_E_INVALID_SESSION;
  gnutls_session_t session = (gnutls_session_t)info->tls_session;
  int result = gnutls_priority_set(session, identity->priorities);
  if (result == GNUTLS_E_SUCCESS) result = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, identity->credentials);
  if (result == GNUTLS_E_SUCCESS)
    gnutls_certificate_server_set_request(session, identity->requests_certificate ? GNUTLS_CERT_REQUEST : GNUTLS_CERT_IGNORE);
  return result;
}
#endif
