#!/bin/sh
# The test of examples/tls_echo (ctest: example_tls_echo).
#   tls_echo_test.sh path/to/tls_echo
# A self-signed certificate for localhost; the server on a port of its
# choosing (its "Serving TLS on" line says which); the client trusts the
# certificate and gets its line back.
set -eu
tls_echo=$1
dir=$(mktemp -d)
server=
trap 'test -n "$server" && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
mkfifo "$dir/out"
"$tls_echo" server "$dir/cert.pem" "$dir/key.pem" 0 > "$dir/out" &
server=$!
exec 3< "$dir/out" # (kept open: the server goes on printing)
read line <&3
port=${line##*:}
"$tls_echo" client "$dir/cert.pem" "$port" > "$dir/client.txt"
test "$(cat "$dir/client.txt")" = "Received: hello over TLS"
# a client that does not trust the certificate is refused
status=0
"$tls_echo" client /dev/null "$port" 2> "$dir/refused.txt" || status=$?
test "$status" != 0
