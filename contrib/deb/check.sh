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
# One page per subcommand, and every page another names is installed.
for sub in serve rdate; do
    man -w "oneloop-$sub" >/dev/null 2>&1 || fail "no man page oneloop-$sub"
done
for named in $(man oneloop oneloop-serve oneloop-rdate 2>/dev/null | grep -o 'oneloop-[a-z]*([0-9])' | sort -u); do
    man -w "${named%%(*}" >/dev/null 2>&1 || fail "a page names $named, which is not installed"
done
for doc in README.md copyright LICENSE-MIT LICENSE-APACHE; do
    [ -f "/usr/share/doc/oneloop/$doc" ] || fail "no /usr/share/doc/oneloop/$doc"
done
# Cargo.toml says MIT OR Apache-2.0: the package carries both.
for licence in "License: MIT" "License: Apache-2.0"; do
    grep -qx "$licence" /usr/share/doc/oneloop/copyright || fail "copyright has no '$licence' paragraph"
done
cmp -s LICENSE-APACHE /usr/share/doc/oneloop/LICENSE-APACHE || fail "LICENSE-APACHE differs"
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
