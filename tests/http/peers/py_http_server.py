# Python's http.server (threaded) as a peer for the client tests. Prints its
# port on the first line, then serves until killed.
#   /hello           200 "hello from http.server" (X-Method: the method)
#   /echo            the request body back (X-Method)
#   /redirect        302 -> /hello
#   /see-other       303 -> /hello (a POST becomes a GET)
#   /loop            302 -> /loop, forever
#   /slow            answers after 3 s
#   /status/N        status N, empty body
import http.server
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, status, body=b'', headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('X-Method', self.command)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def route(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        p = self.path
        if p == '/hello':
            self.reply(200, b'hello from http.server', [('Content-Type', 'text/plain')])
        elif p == '/echo':
            self.reply(200, body, [('X-Content-Type', self.headers.get('Content-Type', ''))])
        elif p == '/redirect':
            self.reply(302, b'', [('Location', '/hello')])
        elif p == '/see-other':
            self.reply(303, b'', [('Location', '/hello')])
        elif p == '/loop':
            self.reply(302, b'', [('Location', '/loop')])
        elif p == '/slow':
            time.sleep(3)
            self.reply(200, b'late')
        elif p.startswith('/status/'):
            self.reply(int(p[8:]))
        else:
            self.reply(404, b'not found')

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = route


srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
