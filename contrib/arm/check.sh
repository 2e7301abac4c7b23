#!/usr/bin/env bash
# Builds oneloop for ARM (arm64 static musl, armhf glibc) with Debian's
# cross compilers and the settings in .cargo/config.toml, then runs each
# binary under qemu-user (the armhf unit tests too) and talks to it over
# loopback: HTTP (a small file,
# 3 MB by sendfile, a range, HTTP/2), HTTPS, HTTP/3, RFC 868 over TCP and UDP, an
# idle loop that does not spin, and a SIGTERM drain that ends with exit 0.
# (qemu runs the program, not a board: speed and memory here are not the
# board's.)
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "arm check: $*" >&2; exit 1; }

targets=(aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf)
for t in "${targets[@]}"; do
    cargo build --release --quiet --target "$t"
done
# The unit tests, on 32 bits: sizes, offsets, time and counters that
# assume 64 bits show here first.
CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm-static -L /usr/arm-linux-gnueabihf" \
    cargo test --release --quiet --lib --target armv7-unknown-linux-gnueabihf >"$(mktemp)" 2>&1 \
    || fail "the unit tests fail on armhf (cargo test --lib --target armv7-unknown-linux-gnueabihf)"
echo "arm check: the unit tests pass on armhf under qemu"
arm64=target/aarch64-unknown-linux-musl/release/oneloop
size=$(stat -c %s "$arm64")
# The README's promise, with TLS, HTTP/2 and HTTP/3.
[ "$size" -le $((3 * 1024 * 1024)) ] || fail "$arm64 is $size bytes, over 3 MiB"

dir=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir "$dir/www"
echo hello > "$dir/www/a.txt"
head -c 3000017 /dev/urandom > "$dir/www/big.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null

port=28080
for t in "${targets[@]}"; do
    case "$t" in
        aarch64*) run=(qemu-aarch64-static) ;;
        armv7*) run=(qemu-arm-static -L /usr/arm-linux-gnueabihf) ;;
    esac
    http=$port time=$((port + 1)) https=$((port + 2))
    port=$((port + 10))
    "${run[@]}" "target/$t/release/oneloop" --root "$dir/www" \
        --http "127.0.0.1:$http" --time "127.0.0.1:$time" --https "127.0.0.1:$https" \
        --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" 2> "$dir/$t.log" &
    pid=$!
    for _ in $(seq 1 50); do
        grep -q "serving HTTP" "$dir/$t.log" && break
        sleep 0.2
    done
    grep -q "serving HTTP" "$dir/$t.log" || fail "$t did not start: $(cat "$dir/$t.log")"
    base=http://127.0.0.1:$http
    [ "$(curl -sS "$base/a.txt")" = hello ] || fail "$t: HTTP"
    curl -sS "$base/big.bin" | cmp -s - "$dir/www/big.bin" || fail "$t: 3 MB over HTTP differs"
    [ "$(curl -sS -r 2999990- "$base/big.bin" | wc -c)" = 27 ] || fail "$t: range"
    curl -sS --http2-prior-knowledge "$base/big.bin" | cmp -s - "$dir/www/big.bin" || fail "$t: HTTP/2 differs"
    curl -sS --cacert "$dir/cert.pem" --resolve "localhost:$https:127.0.0.1" \
        "https://localhost:$https/big.bin" | cmp -s - "$dir/www/big.bin" || fail "$t: HTTPS differs"
    # HTTP/3, on UDP at the HTTPS port (ngtcp2's client; CI installs it).
    if command -v gtlsclient >/dev/null 2>&1; then
        rm -rf "$dir/h3" && mkdir "$dir/h3"
        timeout 30 gtlsclient -q --exit-on-all-streams-close --download "$dir/h3" 127.0.0.1 "$https" \
            "https://localhost:$https/big.bin" >/dev/null 2>&1 || fail "$t: HTTP/3"
        cmp -s "$dir/h3/big.bin" "$dir/www/big.bin" || fail "$t: 3 MB over HTTP/3 differs"
    fi
    rdate -p -o "$time" 127.0.0.1 >/dev/null || fail "$t: RFC 868 over TCP"
    timeout 5 rdate -p -u -o "$time" 127.0.0.1 >/dev/null || fail "$t: RFC 868 over UDP"
    # Idle, the loop sleeps in epoll_wait: under a tenth of a second of CPU
    # in a second (qemu's own threads included).
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 1
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    [ $((after - before)) -le 10 ] || fail "$t: $((after - before)) ticks of CPU in an idle second"
    kill -TERM "$pid"
    wait "$pid" || fail "$t: exit status $? after SIGTERM"
    grep -q "shutdown complete" "$dir/$t.log" || fail "$t: no 'shutdown complete'"
    pid=
    echo "arm check: $t serves HTTP, HTTP/2, HTTPS, HTTP/3 and RFC 868 (TCP, UDP) under qemu, idles, drains on SIGTERM"
done
# The Debian packages: the same contents as amd64's, for arm64 and armhf.
lists=()
for t in "${targets[@]}"; do
    # The static arm64 build depends on no package: the `static` variant
    # says so (Cargo.toml), where "$auto" would warn that it found none.
    variant=()
    case "$t" in *-musl) variant=(--variant static) ;; esac
    deb=$(cargo deb --quiet --no-build "${variant[@]}" --target "$t" 2>"$dir/deb-$t.err" | tail -1) \
        || fail "cargo deb --target $t: $(cat "$dir/deb-$t.err")"
    [ -f "$deb" ] || fail "cargo deb --target $t made no package"
    ! grep -qi warning "$dir/deb-$t.err" || fail "cargo deb --target $t: $(cat "$dir/deb-$t.err")"
    if command -v lintian >/dev/null 2>&1; then
        lint=$(lintian --fail-on error,warning "$deb" 2>&1) || fail "lintian $deb: $lint"
    fi
    arch=$(dpkg-deb -f "$deb" Architecture)
    case "$t:$arch" in aarch64*:arm64 | armv7*:armhf) ;; *) fail "$deb is for $arch" ;; esac
    dpkg-deb -c "$deb" | awk '{print $6}' | sort > "$dir/$arch.list"
    for f in ./usr/bin/oneloop ./usr/share/man/man1/oneloop-rdate.1 ./usr/share/doc/oneloop/copyright \
        ./usr/lib/systemd/system/oneloop.service; do
        grep -q "^$f" "$dir/$arch.list" || fail "$deb lacks $f"
    done
    lists+=("$dir/$arch.list")
done
cmp -s "${lists[@]}" || fail "the arm64 and armhf packages differ: $(diff "${lists[@]}")"
echo "arm check: $arm64 is $size bytes; the arm64 and armhf packages hold the same files and lintian finds nothing in either"
