// tls_context: the settings shared by TLS connections, over an SSL_CTX.
#include "tls_session.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <stdexcept>

namespace uvasync {

namespace detail {

tls_context_state::~tls_context_state() { SSL_CTX_free(ctx); }

[[noreturn]] void throw_openssl_error(const std::string& what) {
    const unsigned long e = ERR_peek_last_error();
    std::string msg = what;
    if (e) {
        const char* reason = ERR_reason_error_string(e);
        msg += ": ";
        msg += reason ? reason : "unknown OpenSSL error";
    }
    ERR_clear_error();
    throw tls_error(std::make_error_code(std::errc::protocol_error), msg);
}

namespace {

// A server's choice: the first of its own protocols that the client offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
    auto* s = static_cast<tls_context_state*>(arg);
    const auto* ours = reinterpret_cast<const unsigned char*>(s->alpn_wire.data());
    for (std::size_t i = 0; i < s->alpn_wire.size(); i += 1 + ours[i]) {
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (in[j] == ours[i] && j + 1 + in[j] <= inlen &&
                std::equal(ours + i + 1, ours + i + 1 + ours[i], in + j + 1)) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK; // no overlap: go on without ALPN, as Python does
}

std::shared_ptr<tls_context_state> new_state(const char* what) {
    auto s = std::make_shared<tls_context_state>();
    s->ctx = SSL_CTX_new(TLS_method()); // either role: start_tls takes it from the connection
    if (!s->ctx) throw_openssl_error(what);
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    // No renegotiation (a TLS 1.2 peer cannot make a write wait for a read);
    // a peer's unexpected EOF is handled by the connection (it reads as EOF).
    SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_alpn_select_cb(s->ctx, &select_alpn, s.get());
    return s;
}

} // namespace

} // namespace detail

tls_certificate_error::tls_certificate_error(const std::string& what, std::string verify_message, long verify_code)
    : tls_error(std::make_error_code(std::errc::protocol_error), what), verify_message_(std::move(verify_message)),
      verify_code_(verify_code) {}

tls_context tls_context::client() {
    auto s = detail::new_state("tls_context::client");
    if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) detail::throw_openssl_error("tls_context::client: CA store");
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, nullptr);
    s->check_hostname = true;
    return detail::tls_context_state::make(std::move(s));
}

tls_context tls_context::server(const std::string& cert_chain_file, const std::string& key_file) {
    tls_context c(detail::new_state("tls_context::server"));
    c.load_cert_chain(cert_chain_file, key_file);
    return c;
}

void tls_context::load_cert_chain(const std::string& cert_chain_file, const std::string& key_file) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(s_->ctx, cert_chain_file.c_str()) != 1)
        detail::throw_openssl_error("load_cert_chain: " + cert_chain_file);
    if (SSL_CTX_use_PrivateKey_file(s_->ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        detail::throw_openssl_error("load_cert_chain: " + key_file);
    if (SSL_CTX_check_private_key(s_->ctx) != 1)
        detail::throw_openssl_error("load_cert_chain: the key does not match the certificate");
}

void tls_context::load_verify_locations(const std::string& cafile) {
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(s_->ctx, cafile.c_str(), nullptr) != 1)
        detail::throw_openssl_error("load_verify_locations: " + cafile);
}

void tls_context::set_verify_peer(bool verify) {
    if (!verify && s_->check_hostname)
        throw std::logic_error("set_verify_peer(false): turn set_check_hostname(false) off first");
    SSL_CTX_set_verify(s_->ctx, verify ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
                       nullptr);
}

bool tls_context::verify_peer() const noexcept { return SSL_CTX_get_verify_mode(s_->ctx) & SSL_VERIFY_PEER; }

void tls_context::set_check_hostname(bool check) {
    if (check && !verify_peer()) set_verify_peer(true);
    s_->check_hostname = check;
}

bool tls_context::check_hostname() const noexcept { return s_->check_hostname; }

void tls_context::set_alpn_protocols(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255)
            throw std::invalid_argument("set_alpn_protocols: a protocol name must be 1 to 255 bytes: \"" + p + "\"");
        wire += static_cast<char>(p.size());
        wire += p;
    }
    // (0 is success here)
    if (SSL_CTX_set_alpn_protos(s_->ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0)
        detail::throw_openssl_error("set_alpn_protocols");
    s_->alpn_wire = std::move(wire);
}

void tls_context::set_minimum_version(tls_version v) {
    SSL_CTX_set_min_proto_version(s_->ctx, v == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
}

SSL_CTX* tls_context::native_handle() const noexcept { return s_->ctx; }

} // namespace uvasync
