#!/bin/sh
# Builds wrk with one change: with WRK_LOG=FILE in its environment, it
# writes a line per response, "µs since the first response, latency in µs,
# fd", to FILE (use it with -t1). benches/wrk/startup.py reads that file.
#
#   apt-get install -y gcc libssl-dev libluajit-5.1-dev luajit
#   git clone https://github.com/wg/wrk /tmp/wrk
#   sh benches/wrk/build.sh /tmp/wrk          # leaves /tmp/wrk/wrk
#
# It compiles against Debian's OpenSSL and LuaJIT rather than through wrk's
# Makefile, which builds its own copies of both.
set -eu
src=${1:?usage: build.sh WRK_SOURCE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cd "$src"
if ! grep -q WRK_LOG src/wrk.c; then
    patch -p1 < "$here/log-latency.patch"
fi
mkdir -p obj
for c in wrk net ssl aprintf stats script units ae zmalloc http_parser; do
    gcc -O2 -std=c99 -D_REENTRANT -D_POSIX_C_SOURCE=200112L -D_BSD_SOURCE -D_DEFAULT_SOURCE \
        -I/usr/include/luajit-2.1 -c -o "obj/$c.o" "src/$c.c"
done
luajit -b src/wrk.lua obj/bytecode.c
gcc -O2 -c -o obj/bytecode.o obj/bytecode.c
echo 'const char *VERSION="4.2.0-log";' | gcc -xc -c -o obj/version.o -
# -E: wrk's Lua code finds its C functions (luaopen_wrk) in the executable.
gcc -Wl,-E -o wrk obj/*.o -lluajit-5.1 -lpthread -lm -ldl -lssl -lcrypto
echo "built $(pwd)/wrk"
