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
# The binary a small host installs: stripped, with TLS, HTTP/2 and HTTP/3,
# at most 3 MiB (the README's promise; the feature's own bound).
size=$(stat -c %s /usr/bin/oneloop)
[ "$size" -le $((3 * 1024 * 1024)) ] || fail "/usr/bin/oneloop is $size bytes, over 3 MiB"
page=$(man -w oneloop) || fail "no man page"
case "$page" in /usr/share/man/man1/oneloop.1*) ;; *) fail "man page at $page" ;; esac
# One page per subcommand, and every page another names is installed.
for sub in serve rdate; do
    man -w "oneloop-$sub" >/dev/null 2>&1 || fail "no man page oneloop-$sub"
done
for named in $(man oneloop oneloop-serve oneloop-rdate 2>/dev/null | grep -o 'oneloop-[a-z]*([0-9])' | sort -u); do
    man -w "${named%%(*}" >/dev/null 2>&1 || fail "a page names $named, which is not installed"
done
for doc in README.md copyright; do
    [ -f "/usr/share/doc/oneloop/$doc" ] || fail "no /usr/share/doc/oneloop/$doc"
done
# Cargo.toml says MIT OR Apache-2.0: the package carries both.
for licence in "License: MIT" "License: Apache-2.0"; do
    grep -qx "$licence" /usr/share/doc/oneloop/copyright || fail "copyright has no '$licence' paragraph"
done
# The package owns nothing under /var/www: the units serve the embedded
# site until a drop-in names a root, so an upgrade loses no edit.
! dpkg -L oneloop | grep -q '^/var/www' || fail "the package ships files under /var/www"
# Man pages and the changelog gzipped, as Debian policy asks.
for name in oneloop oneloop-serve oneloop-rdate; do
    [ -f "/usr/share/man/man1/$name.1.gz" ] || fail "no /usr/share/man/man1/$name.1.gz"
done
[ -f /usr/share/doc/oneloop/changelog.Debian.gz ] || fail "no changelog.Debian.gz"
# The maintainer scripts cargo-deb wrote from the units: systemd told of
# them on install, the service stopped on removal.
scripts=$(mktemp -d)
dpkg-deb -e "$deb" "$scripts"
grep -q 'daemon-reload' "$scripts/postinst" || fail "postinst does not reload systemd"
grep -q 'deb-systemd-invoke stop' "$scripts/prerm" || fail "prerm does not stop the units"
for unit in oneloop.service oneloop.socket oneloop-time.socket oneloop-https.socket; do
    grep -q "$unit" "$scripts/prerm" || fail "prerm does not stop $unit"
done
# Enabling happens only where the administrator had enabled the unit
# before (an upgrade); a disabled unit is not started (deb-systemd-invoke).
[ "$(grep -c 'deb-systemd-helper enable' "$scripts/postinst")" = "$(grep -c 'was-enabled' "$scripts/postinst")" ] \
    || fail "postinst enables a unit the administrator did not"
rm -rf "$scripts"
# The Description's first line (the synopsis) under 80 characters.
synopsis=$(dpkg-deb -f "$deb" Description | head -1)
[ "${#synopsis}" -lt 80 ] || fail "synopsis of ${#synopsis} characters: $synopsis"
# lintian, when installed (CI installs it): no error and no warning.
if command -v lintian >/dev/null 2>&1; then
    lint=$(lintian --fail-on error,warning "$deb" 2>&1) || fail "lintian: $lint"
fi
units=(oneloop.socket oneloop-time.socket oneloop-https.socket oneloop.service oneloop@.service)
for unit in "${units[@]}"; do
    [ -f "/lib/systemd/system/$unit" ] || fail "no $unit"
done
# Those five and no other (cargo-deb's unit matching once copied the
# service under the sockets' names).
installed=$(dpkg -L oneloop | grep -c '/systemd/system/.')
[ "$installed" = "${#units[@]}" ] || fail "$installed units installed: $(dpkg -L oneloop | grep /systemd/system/)"
# The template is verified as an instance (its CPUAffinity is %i).
verified=$(cd /lib/systemd/system && systemd-analyze verify oneloop.socket oneloop-time.socket \
    oneloop-https.socket oneloop.service oneloop@0.service 2>&1) || fail "systemd-analyze verify: $verified"
[ -z "$verified" ] || fail "systemd-analyze verify says: $verified"

dpkg -r oneloop >/dev/null
[ ! -e /usr/bin/oneloop ] || fail "dpkg -r left /usr/bin/oneloop"
[ ! -e /lib/systemd/system/oneloop.service ] || fail "dpkg -r left the units"
echo "deb check: $(basename "$deb") installs /usr/bin/oneloop ($version, $size bytes), $page, the docs, the changelog and five units that systemd-analyze verifies, no file under /var/www, maintainer scripts that enable nothing, lintian clean; dpkg -r removes them"
