// HTTPS: http::serve with server_options.tls, and http::client (libcurl)
// with client_options.tls trusting a throwaway CA made at test time by
// `openssl req` / `openssl x509`.
#include "http_test_util.hpp"

#include <filesystem>
#include <fstream>

using namespace http_test;

namespace {

constexpr const char* openssl = "/usr/bin/openssl";

struct test_ca {
    std::string dir;
    bool ok = false;
    test_ca() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "uvasync-https-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) return;
        dir = tmpl + "/";
        std::ofstream(dir + "ext.cnf") << "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n";
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
        const std::string q = " >/dev/null 2>&1";
        ok = std::system((std::string(openssl) + " req -x509" + ec + "-keyout " + dir + "ca.key -out " + dir +
                          "ca.pem -days 2 -subj /CN=test-ca -addext basicConstraints=critical,CA:TRUE" + q)
                             .c_str()) == 0 &&
             std::system((std::string(openssl) + " req" + ec + "-keyout " + dir + "key.pem -out " + dir +
                          "req.csr -subj /CN=localhost" + q)
                             .c_str()) == 0 &&
             std::system((std::string(openssl) + " x509 -req -in " + dir + "req.csr -CA " + dir + "ca.pem -CAkey " +
                          dir + "ca.key -CAcreateserial -days 2 -extfile " + dir + "ext.cnf -out " + dir +
                          "cert.pem" + q)
                             .c_str()) == 0;
    }
    ~test_ca() {
        std::error_code ec;
        if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
};

ua::task<http::response> hello(http::request& req) {
    co_return http::response::text("hello over https: " + std::string(req.path()));
}

ua::task<> https_round_trip(const test_ca* ca) {
    http::router app;
    app.get("/{path:.*}", hello);
    http::server_options so;
    so.tls = ua::tls_context::server(ca->dir + "cert.pem", ca->dir + "key.pem");
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0, so);
    const std::string base = "https://localhost:" + std::to_string(srv.port());

    http::client_options co;
    co.tls = ua::tls_context::client();
    co.tls->load_verify_locations(ca->dir + "ca.pem");
    http::client session(co);
    for (int i = 0; i < 3; ++i) { // (keep-alive: one TLS connection)
        http::client_response r = co_await session.get(base + "/x" + std::to_string(i));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello over https: /x" + std::to_string(i));
    }

    // without the CA: libcurl refuses the server's certificate
    http::client plain;
    bool refused = false;
    try {
        co_await plain.get(base + "/");
    } catch (const http::client_error& e) {
        refused = true;
        EXPECT_EQ(e.code(), 60) << e.what(); // CURLE_PEER_FAILED_VERIFICATION
    }
    EXPECT_TRUE(refused);
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpTls, ServeAndClientOverHttps) {
    if (::access(openssl, X_OK) != 0) GTEST_SKIP() << "needs " << openssl;
    test_ca ca;
    ASSERT_TRUE(ca.ok);
    http_test::run_test(https_round_trip(&ca));
}

} // namespace
