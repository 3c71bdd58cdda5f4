#!/bin/sh
# The test of examples/supervisor (ctest: example_supervisor).
#   supervisor_test.sh path/to/supervisor
# 1. A child that crashes twice (a signal, then status 3), then exits 0:
#    restarted twice, and the supervisor exits 0.
# 2. A child that runs until the supervisor gets SIGTERM: the signal is
#    forwarded, the supervisor exits with the child's status (143) and
#    leaves no child behind.
set -eu
supervisor=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$supervisor" --backoff-ms 5 -- /bin/sh -c '
    n=$(cat "$0" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$0"
    case $n in 1) kill -SEGV $$ ;; 2) exit 3 ;; *) exit 0 ;; esac' "$dir/count" 2> "$dir/log"
test "$(cat "$dir/count")" = 3
test "$(grep -c 'restarting in' "$dir/log")" = 2
grep -q 'crashed (signal 11), restarting in 5 ms' "$dir/log"
grep -q 'crashed (status 3), restarting in 10 ms' "$dir/log"

# The child reports its pid through a FIFO once it runs: no timing involved.
mkfifo "$dir/started"
"$supervisor" -- /bin/sh -c 'echo $$ > "$0"; exec sleep 1000' "$dir/started" 2> "$dir/log2" &
sup=$!
read child < "$dir/started"
kill -TERM "$sup"
status=0
wait "$sup" || status=$?
test "$status" = 143
if kill -0 "$child" 2> /dev/null; then echo "child $child still runs"; exit 1; fi
grep -q 'exited with status 143' "$dir/log2"

# Usage.
status=0
"$supervisor" > /dev/null 2>&1 || status=$?
test "$status" = 2
echo "supervisor: ok"
