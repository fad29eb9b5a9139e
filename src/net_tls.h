/*
 * The TLS transport (mbedTLS 2.28, TLS 1.2 and 1.1): net_tls_transport in listener.h, plus the
 * certificate checks other transports can reuse (the WebSocket transport's wss listeners).
 *
 * A listener with certfile/keyfile gets one mbedTLS configuration: server certificate chain
 * and key (checked to be a pair), CA certificates from cafile/capath for client certificates
 * (require_certificate), minimum version (tls_version), cipher suites (ciphers, mbedTLS
 * names such as TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256), and session resumption through both
 * session tickets (RFC 5077, AES-256-GCM ticket keys rotated daily) and a session-id cache of
 * NET_TLS_CACHE_ENTRIES sessions, so a sensor that reconnects skips the public-key work.
 *
 * Start-up errors name the listener and the file: missing or unreadable file (with errno's
 * text), a file mbedTLS cannot parse, a key that does not match the certificate. An expired or
 * not-yet-valid server certificate is logged as a warning at every start and reload. SIGHUP
 * re-reads the files for new connections (transport reload hook); a bad file keeps the old.
 */
#ifndef TERN_NET_TLS_H
#define TERN_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct broker;
struct conf_bridge;
struct conf_listener;
struct conn;
struct log;
struct tls_listener;

#define NET_TLS_CACHE_ENTRIES 1024
#define NET_TLS_TICKET_LIFETIME_S 86400

/*
 * Checks that the files of cl's TLS keys exist, can be read and parsed, that keyfile matches
 * certfile, and warns on log when the certificate is expired or not yet valid. name is used
 * in messages ("listener 8883"). Returns TERN_OK or TERN_ECONF with the reason in err.
 */
int net_tls_check_files(const struct conf_listener *cl, const char *name, struct log *log,
                        char *err, size_t errlen);

/*
 * The client side, for bridges. net_tls_client_new reads cf's bridge_cafile/bridge_capath (the
 * CAs the remote's certificate must chain to) and bridge_certfile/bridge_keyfile (optional
 * client certificate) into a new client configuration (*out, owned by the caller; free with
 * net_tls_client_free). Returns TERN_OK or TERN_ECONF with "connection NAME: ..." in err.
 * net_tls_client_open starts TLS on c, a connection made with net_tls_transport by conn_connect:
 * the handshake checks the remote's certificate against the CAs and, unless insecure, that it
 * names host. Takes a reference to t for c's lifetime. TERN_OK or TERN_ENOMEM.
 */
int net_tls_client_new(struct broker *b, const struct conf_bridge *cf, struct tls_listener **out,
                       char *err, size_t errlen);
void net_tls_client_free(struct broker *b, struct tls_listener *t);
int net_tls_client_open(struct conn *c, struct tls_listener *t, const char *host, bool insecure);

#endif
