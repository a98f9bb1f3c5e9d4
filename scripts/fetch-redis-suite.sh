#!/usr/bin/env bash
# Unpacks Redis's own test suite (tests/ of Debian bookworm's redis 7.0.15 source package)
# into $1 (default .build/redis-suite), idempotently. Adds a deb-src line for bookworm to
# apt's sources when none is there, downloads the source package and unpacks its upstream
# tarball: the suite as Redis wrote it (Debian's patches touch the server, not tests/).
set -euo pipefail
dest="${1:-.build/redis-suite}"
version=7.0.15
tree="$dest/redis-$version"
if [ -f "$tree/tests/test_helper.tcl" ]; then
	echo "$tree"
	exit 0
fi
command -v tclsh >/dev/null || {
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null
}
mkdir -p "$dest"
download() { (cd "$dest" && apt-get source --download-only -qq "redis=$1" >/dev/null 2>&1); }
if ! ls "$dest"/redis_"$version".orig.tar.gz >/dev/null 2>&1; then
	if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/ ||
		! apt-cache showsrc redis 2>/dev/null | grep -q "^Version: $version"; then
		cat >/etc/apt/sources.list.d/swiftlet-redis-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		apt-get update -qq
	fi
	# Any bookworm revision of 7.0.15 carries the same upstream tarball.
	srcver="$(apt-cache showsrc redis | awk '/^Version: '"$version"'/ {print $2; exit}')"
	download "$srcver"
fi
tar xzf "$dest/redis_$version.orig.tar.gz" -C "$dest"
echo "$tree"
