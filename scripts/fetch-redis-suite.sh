#!/usr/bin/env bash
# Unpacks Redis's source tree with its own test suite into $1 (default .build/redis-suite),
# idempotently: version $2, 7.0.15 (Debian bookworm's redis source package, the default) or
# 8.0.2 (trixie's, whose current revision lives in trixie-security). Adds a deb-src source
# for that release to apt's sources when none serves the version, downloads the source
# package and unpacks its upstream tarball: the suite as Redis wrote it (Debian's patches
# touch the server, not tests/). Prints the tree's path.
set -euo pipefail
dest="${1:-.build/redis-suite}"
version="${2:-7.0.15}"
case "$version" in
7.0.15) release=bookworm suffix="" ;;
8.0.2) release=trixie suffix="-trixie" ;;
*)
	echo "unknown Redis version $version" >&2
	exit 2
	;;
esac
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
if ! ls "$dest"/redis_"$version".orig.tar.gz >/dev/null 2>&1; then
	known="$(apt-cache showsrc redis 2>/dev/null || true)"
	if ! grep -q "^Version: \(5:\)\?$version" <<<"$known"; then
		{
			printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\n' "$release"
			printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
			if [ "$release" = trixie ]; then
				printf '\nTypes: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\n'
				printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
			fi
		} >"/etc/apt/sources.list.d/swiftlet-redis-src${suffix}.sources"
		apt-get update -qq
	fi
	# Any revision of the version carries the same upstream tarball; only it is needed (the
	# .dsc of a superseded revision may be gone from the archive).
	srcver="$(apt-cache showsrc redis | awk '/^Version: (5:)?'"$version"'/ {print $2; exit}')"
	(cd "$dest" && apt-get source --download-only -qq "redis=$srcver" >/dev/null 2>&1) || true
	ls "$dest"/redis_"$version".orig.tar.gz >/dev/null
fi
tar xzf "$dest/redis_$version.orig.tar.gz" -C "$dest"
echo "$tree"
