#!/usr/bin/env bash
# Prepares a Debian machine for gokmod's test suite: installs the Debian
# packages the tests compare against or need, and fetches Debian's current
# amd64 kernel package (resolved through the linux-image-amd64 meta
# package, never pinned), unpacks it and indexes it with kmod's depmod.
#
# The kernel tree lands in .cache/debian/<package>/root and the file
# .cache/debian/current names it ("ROOT RELEASE"). Re-running is cheap: a
# tree that is already there is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(kmod xz-utils zstd libkmod-dev gcc qemu-system-x86 busybox-static runc docker-registry hyperfine)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
updated=no
apt_update() {
	if [ "$updated" = no ]; then
		apt-get update -qq
		updated=yes
	fi
}
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(resolve || true)
if [ -z "$pkg" ]; then
	apt_update
	pkg=$(resolve)
fi
if [ -z "$pkg" ]; then
	echo "setup: cannot resolve linux-image-amd64 to a versioned kernel package" >&2
	exit 1
fi
release=${pkg#linux-image-}
cache=.cache/debian
dir=$cache/$pkg
if [ ! -f "$dir/.done" ]; then
	echo "setup: fetching $pkg"
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 0777 "$dir" # apt's download sandbox user writes here
	(cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
		apt_update
		(cd "$dir" && apt-get download -q "$pkg" >/dev/null)
	}
	dpkg-deb -x "$dir"/*.deb "$dir/root"
	rm -f "$dir"/*.deb
	depmod -b "$dir/root" "$release"
	touch "$dir/.done"
fi
echo "$(pwd)/$dir/root $release" >"$cache/current"
echo "setup: kernel tree $dir/root ($release)"
