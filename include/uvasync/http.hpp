// uvasync::http: what asyncio services use aiohttp for. An HTTP/1.1 server
// (requests parsed by Boost.Beast's parser) with a router and middlewares,
// and a pooled client (libcurl's multi interface on the uvasync loop).
// Link the library target uvasync::http (pkg-config: uvasync-http).
//
//   namespace http = uvasync::http;
//   http::router app;
//   app.get("/health", [](http::request&) -> uvasync::task<http::response> {
//       co_return http::response::json(R"({"status":"ok"})");
//   });
//   http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 8080);
//
//   http::client session;
//   http::client_response r = co_await session.get("http://127.0.0.1:8080/health");
#pragma once

#include "http/client.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
