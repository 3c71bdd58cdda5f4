// TLS: asyncio's ssl= on open_connection, start_server and start_tls, on
// OpenSSL 3.
//
//   // a client: the system's CA store, the host name checked, TLS >= 1.2
//   uvasync::connect_options o;
//   o.tls = uvasync::tls_context::client();
//   auto [reader, writer] = co_await uvasync::open_connection("example.org", 443, o);
//
//   // a server
//   uvasync::server_options so;
//   so.tls = uvasync::tls_context::server("cert.pem", "key.pem");
//   auto srv = co_await uvasync::start_server(handler, "0.0.0.0", 8443, so);
//
// The connection is the same stream_reader / stream_writer pair as plain
// TCP, encrypted underneath: reads, drain(), flow control and close()
// behave the same. close() sends TLS close_notify first; a peer that closes
// the socket without one reads as EOF, as in asyncio.
//
// Errors: tls_error (a std::system_error) with OpenSSL's reason in what();
// a peer certificate that does not verify is a tls_certificate_error whose
// verify_message() is OpenSSL's text ("certificate has expired",
// "self-signed certificate", "hostname mismatch", ...). A handshake that
// does not finish in time throws tls_error with std::errc::timed_out. A bad
// record from the peer fails that connection only, from the read or
// drain() that meets it.
#pragma once

#include <memory>
#include <string>
#include <system_error>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX; // (OpenSSL's own declaration)

namespace uvasync {

namespace detail {
struct tls_context_state;
} // namespace detail

enum class tls_version { tls1_2, tls1_3 };

// ssl.SSLContext: a copyable handle sharing one OpenSSL SSL_CTX. Settings
// apply to the connections made after them.
class tls_context {
public:
    // ssl.create_default_context(): verifies the peer against the system's
    // CA store, checks the host name, TLS 1.2 or later.
    static tls_context client();
    // A server context with its certificate chain (PEM, leaf first) and
    // private key. It does not ask for client certificates (set_verify_peer).
    static tls_context server(const std::string& cert_chain_file, const std::string& key_file);

    // The certificate chain and key this side presents. Errors: tls_error.
    void load_cert_chain(const std::string& cert_chain_file, const std::string& key_file);
    // Trusts the CA certificates in this PEM file (in addition to any
    // trusted already). Errors: tls_error.
    void load_verify_locations(const std::string& cafile);
    // Verify the peer's certificate (a client: the server's; a server: ask
    // for and require a client certificate). As Python: turning it off while
    // check_hostname is on throws std::logic_error.
    void set_verify_peer(bool verify);
    bool verify_peer() const noexcept;
    // Check that the server's certificate names the host connected to (or
    // server_hostname). Turning it on turns verify_peer on too.
    void set_check_hostname(bool check);
    bool check_hostname() const noexcept;
    // ALPN, most preferred first ("h2", "http/1.1"). A server picks the
    // first of its own list that the client offers. Empty names or names
    // over 255 bytes: std::invalid_argument.
    void set_alpn_protocols(const std::vector<std::string>& protocols);
    void set_minimum_version(tls_version v);

    // For anything else (cipher lists, session caching, ...). Each
    // connection keeps OpenSSL's record buffers (about 34 KiB) while it is
    // open, for speed; SSL_CTX_set_mode(native_handle(),
    // SSL_MODE_RELEASE_BUFFERS) trades some CPU for memory with many idle
    // connections.
    SSL_CTX* native_handle() const noexcept;

private:
    explicit tls_context(std::shared_ptr<detail::tls_context_state> s) noexcept : s_(std::move(s)) {}
    friend struct detail::tls_context_state;
    std::shared_ptr<detail::tls_context_state> s_;
};

// What writer.tls() tells about an encrypted connection.
struct tls_info {
    std::string version;              // "TLSv1.3"
    std::string cipher;               // "TLS_AES_128_GCM_SHA256"
    std::string alpn_protocol;        // empty: none negotiated
    std::string peer_subject;         // "CN=localhost,O=..." (RFC 2253); empty: no certificate
    std::string peer_certificate_pem; // empty: no certificate
};

// ssl.SSLError.
class tls_error : public std::system_error {
public:
    using std::system_error::system_error;
};

// ssl.SSLCertVerificationError: the peer's certificate did not verify.
class tls_certificate_error : public tls_error {
public:
    tls_certificate_error(const std::string& what, std::string verify_message, long verify_code);
    // OpenSSL's text for the verification result ("certificate has expired").
    const std::string& verify_message() const noexcept { return verify_message_; }
    // OpenSSL's X509_V_ERR_* code.
    long verify_code() const noexcept { return verify_code_; }

private:
    std::string verify_message_;
    long verify_code_;
};

} // namespace uvasync
