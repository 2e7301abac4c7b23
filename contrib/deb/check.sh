#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, installs it on this machine,
# checks what it installed, and removes it again.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "deb check: $*" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

deb=$(cargo deb --quiet 2>/dev/null | tail -1)
[ -f "$deb" ] || deb=$(ls -t target/debian/oneloop_"$version"*_amd64.deb | head -1)
[ -f "$deb" ] || fail "no package built"
dpkg -i "$deb" >/dev/null

[ "$(/usr/bin/oneloop --version)" = "oneloop $version" ] || fail "--version says $(/usr/bin/oneloop --version)"
# The binary a small host installs: stripped, with TLS and HTTP/2, at most
# 2.5 MiB.
size=$(stat -c %s /usr/bin/oneloop)
[ "$size" -le $((5 * 1024 * 1024 / 2)) ] || fail "/usr/bin/oneloop is $size bytes, over 2.5 MiB"
page=$(man -w oneloop) || fail "no man page"
case "$page" in /usr/share/man/man1/oneloop.1*) ;; *) fail "man page at $page" ;; esac
for doc in README.md copyright; do
    [ -f "/usr/share/doc/oneloop/$doc" ] || fail "no /usr/share/doc/oneloop/$doc"
done
[ -f /var/www/oneloop/index.html ] || fail "no default site"
units=(oneloop.socket oneloop-time.socket oneloop-https.socket oneloop.service oneloop@.service)
for unit in "${units[@]}"; do
    [ -f "/lib/systemd/system/$unit" ] || fail "no $unit"
done
# The template is verified as an instance (its CPUAffinity is %i).
verified=$(cd /lib/systemd/system && systemd-analyze verify oneloop.socket oneloop-time.socket \
    oneloop-https.socket oneloop.service oneloop@0.service 2>&1) || fail "systemd-analyze verify: $verified"
[ -z "$verified" ] || fail "systemd-analyze verify says: $verified"

dpkg -r oneloop >/dev/null
[ ! -e /usr/bin/oneloop ] || fail "dpkg -r left /usr/bin/oneloop"
[ ! -e /lib/systemd/system/oneloop.service ] || fail "dpkg -r left the units"
echo "deb check: $(basename "$deb") installs /usr/bin/oneloop ($version, $size bytes), $page, the docs, the site and five units that systemd-analyze verifies; dpkg -r removes them"
