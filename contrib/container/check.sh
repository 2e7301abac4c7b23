#!/usr/bin/env bash
# Builds the image for amd64 and arm64, and the manifest list that names
# both, and checks what can be checked without `podman run` (which this
# kind of machine refuses: setrlimit is not permitted): each image's
# architecture, config, size and filesystem, exported and run as is (the
# arm64 one under qemu-user).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
list=localhost/oneloop:$version
fail() { echo "container check: $*" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
podman manifest rm "$list" >/dev/null 2>&1 || podman rmi -f "$list" >/dev/null 2>&1 || true
podman manifest create "$list" >/dev/null

port=18480
for arch in amd64 arm64; do
    case "$arch" in
        amd64) target=x86_64-unknown-linux-musl run=() ;;
        arm64) target=aarch64-unknown-linux-musl run=(qemu-aarch64-static) ;;
    esac
    binary=target/$target/release/oneloop
    image=$list-$arch
    cargo build --release --quiet --target "$target"
    podman build -q --platform "linux/$arch" --build-arg "BINARY=$binary" -t "$image" \
        -f contrib/container/Containerfile . >/dev/null
    podman manifest add "$list" "containers-storage:$image" >/dev/null

    config=$(podman image inspect --format '{{.Architecture}}|{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.ExposedPorts}}|{{.Config.StopSignal}}' "$image")
    [ "$config" = "$arch"'|65534:65534|["/oneloop"]|{"3737/tcp":{},"3737/udp":{},"8080/tcp":{},"8443/tcp":{},"8443/udp":{}}|SIGTERM' ] \
        || fail "unexpected config: $config"
    licences=$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.licenses"}}' "$image")
    [ "$licences" = "MIT OR Apache-2.0" ] || fail "licences label: '$licences'"
    bytes=$(stat -c %s "$binary")
    size=$(podman image inspect --format '{{.Size}}' "$image")
    # The image is the binary, and a few KiB of metadata; at most what the
    # README promises ("a static binary under N MiB").
    [ "$size" -le $((bytes + 64 * 1024)) ] || fail "$arch image $size bytes for a $bytes-byte binary"
    promised=$(grep -o 'static binary under [0-9]* MiB' README.md | grep -o '[0-9]*' | head -1)
    [ -n "$promised" ] || fail "the README promises no size"
    [ "$size" -le $((promised * 1024 * 1024)) ] || fail "$arch image $size bytes, over the README's $promised MiB"

    rm -rf "${dir:?}/$arch" && mkdir "$dir/$arch"
    cid=$(podman create --platform "linux/$arch" "$image")
    podman export "$cid" | tar -x -C "$dir/$arch"
    podman rm -f "$cid" >/dev/null
    files=$(cd "$dir/$arch" && find . -mindepth 1 ! -type d | sort | tr '\n' ' ')
    [ "$files" = "./oneloop " ] || fail "the $arch image holds more than the binary: $files"

    # Run the exported binary as the image would (ports moved to loopback).
    http=$port time=$((port + 1))
    port=$((port + 10))
    "${run[@]}" "$dir/$arch/oneloop" --http "127.0.0.1:$http" --time "127.0.0.1:$time" \
        --shutdown-timeout 5 2>"$dir/$arch.log" &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$http/" && break; sleep 0.1; done
    [ "$(curl -s "http://127.0.0.1:$http/hello.txt")" = "Hello" ] || fail "$arch: HTTP"
    "${run[@]}" "$dir/$arch/oneloop" rdate --port "$time" --both 127.0.0.1 >/dev/null \
        || fail "$arch: RFC 868 over TCP and UDP"
    kill -TERM "$pid"
    wait "$pid" || fail "$arch: exit status $? after SIGTERM"
    pid=
    grep -q "shutdown complete" "$dir/$arch.log" || fail "$arch: no clean shutdown: $(cat "$dir/$arch.log")"
    echo "container check: $image, $size bytes, user 65534, ports 8080 8443 3737/tcp 3737/udp; the exported binary serves and stops cleanly"
done
archs=$(podman manifest inspect "$list" | python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')
[ "$archs" = "amd64 arm64" ] || fail "the manifest list $list names: $archs"
echo "container check: $list is a manifest list of amd64 and arm64"
