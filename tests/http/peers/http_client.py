# Python's http.client against the server under test (port in argv[1]):
# 10,000 requests on one keep-alive connection (GET and POST mixed), then
# one HTTP/1.0 request on a connection of its own. Prints "OK 10000".
import http.client
import sys

port = int(sys.argv[1])
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
n = 0
for i in range(10000):
    if i % 3 == 0:
        body = ('x' * (i % 100)).encode()
        conn.request('POST', '/echo', body=body, headers={'Content-Type': 'text/plain'})
        r = conn.getresponse()
        assert r.status == 200, r.status
        assert r.read() == body
        assert r.getheader('X-Body-Length') == str(len(body))
    else:
        conn.request('GET', '/users/%d' % i)
        r = conn.getresponse()
        assert r.status == 200, r.status
        assert r.read() == ('user %d' % i).encode()
    assert not r.will_close
    n += 1
sock = conn.sock
conn.request('GET', '/hello')
conn.getresponse().read()
assert conn.sock is sock, 'the connection was not kept alive'
conn.close()


class Http10(http.client.HTTPConnection):
    _http_vsn = 10
    _http_vsn_str = 'HTTP/1.0'


old = Http10('127.0.0.1', port, timeout=30)
old.request('GET', '/hello')
r = old.getresponse()
assert r.status == 200 and r.read() == b'Hello, World!'
assert r.will_close
old.close()
print('OK', n)
