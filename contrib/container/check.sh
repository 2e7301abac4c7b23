#!/usr/bin/env bash
# Builds the image and checks what can be checked without `podman run`
# (which this kind of machine refuses: setrlimit is not permitted):
# its config, its size, and its filesystem, exported and run as is.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image=localhost/oneloop:$version

cargo build --release --target x86_64-unknown-linux-musl
podman build -q -t "$image" -f contrib/container/Containerfile . >/dev/null

fail() { echo "container check: $*" >&2; exit 1; }
config=$(podman image inspect --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.ExposedPorts}}|{{.Config.StopSignal}}' "$image")
[ "$config" = '65534:65534|["/oneloop"]|{"3737/tcp":{},"3737/udp":{},"8080/tcp":{},"8443/tcp":{}}|SIGTERM' ] \
    || fail "unexpected config: $config"
licences=$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.licenses"}}' "$image")
[ "$licences" = "MIT OR Apache-2.0" ] || fail "licences label: '$licences'"
binary=$(stat -c %s target/x86_64-unknown-linux-musl/release/oneloop)
size=$(podman image inspect --format '{{.Size}}' "$image")
# The image is the binary, and a few KiB of metadata.
[ "$size" -le $((binary + 64 * 1024)) ] || fail "image $size bytes for a $binary-byte binary"

dir=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
cid=$(podman create "$image")
podman export "$cid" | tar -x -C "$dir"
podman rm -f "$cid" >/dev/null
files=$(cd "$dir" && find . -mindepth 1 ! -type d | sort | tr '\n' ' ')
[ "$files" = "./oneloop " ] || fail "the image holds more than the binary: $files"

# Run the exported binary as the image would (ports moved to loopback).
"$dir/oneloop" --http 127.0.0.1:18480 --time 127.0.0.1:18437 --shutdown-timeout 5 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18480/ && break; sleep 0.1; done
[ "$(curl -s http://127.0.0.1:18480/hello.txt)" = "Hello" ] || fail "HTTP"
"$dir/oneloop" rdate --port 18437 --both 127.0.0.1 >/dev/null || fail "RFC 868 over TCP and UDP"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
grep -q "shutdown complete" "$dir/log" || fail "no clean shutdown: $(cat "$dir/log")"
echo "container check: $image, $size bytes, user 65534, ports 8080 8443 3737/tcp 3737/udp; the exported binary serves and stops cleanly"
