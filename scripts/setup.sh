#!/usr/bin/env bash
# Prepares a Debian machine for gokmod's test suite: installs the Debian
# packages the tests compare against or need, and fetches Debian's current
# amd64 kernel package (resolved through the linux-image-amd64 meta
# package, never pinned), unpacks it and indexes it with kmod's depmod.
#
# The kernel tree lands in .cache/debian/<package>/root and the file
# .cache/debian/current names it ("ROOT RELEASE"); its Module.symvers
# (from linux-headers-RELEASE) lands in .cache/debian/linux-headers-RELEASE
# and .cache/debian/symvers names it (the same under .cache/debian13). Re-running is cheap: a
# tree that is already there is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd and udev: their systemd-modules-load and systemd-udevd go into
# the guests for the modules-load and coldplug differentials.
packages=(kmod xz-utils zstd gzip openssl linux-kbuild-6.1 libkmod-dev liblzma-dev gcc qemu-system-x86 busybox-static runc docker-registry hyperfine time systemd udev)
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

# The kernel's Module.symvers (its exports and their CRCs, what
# preflight checks modules against) ships in linux-headers-RELEASE, named
# after the release found above. Only that file is kept: $1 is the apt
# wrapper (empty for the machine's own), $2 the package, $3 the directory.
fetch_symvers() {
	local hdir=$3
	if [ -f "$hdir/.done" ]; then
		return
	fi
	echo "setup: fetching $2 (Module.symvers)"
	rm -rf "$hdir"
	mkdir -p "$hdir"
	chmod 0777 "$hdir"
	(cd "$hdir" && $1 apt-get download -q "$2" >/dev/null 2>&1) || {
		[ -n "$1" ] || apt_update
		(cd "$hdir" && $1 apt-get download -q "$2" >/dev/null)
	}
	dpkg-deb --fsys-tarfile "$hdir"/*.deb | tar -x -C "$hdir" --wildcards --no-anchored '*/Module.symvers'
	rm -f "$hdir"/*.deb
	local f
	f=$(find "$hdir" -name Module.symvers -type f | head -n1)
	if [ -z "$f" ]; then
		echo "setup: $2 holds no Module.symvers" >&2
		exit 1
	fi
	mv "$f" "$hdir/Module.symvers"
	rm -rf "$hdir/usr"
	touch "$hdir/.done"
}
fetch_symvers "" "linux-headers-$release" "$cache/linux-headers-$release"
echo "$(pwd)/$cache/linux-headers-$release/Module.symvers" >"$cache/symvers"

# Debian 13 ("trixie"): its current kernel (modules as signed .ko.xz
# under usr/lib/modules, merged /usr) and its kmod 34.2 with the
# libraries it needs, fetched through a private apt configuration that
# leaves the machine's sources alone: the machine's own Debian sources
# with every bookworm suite renamed trixie (same URIs, same keys).
t13=$(pwd)/.cache/debian13
apt13() {
	"$1" -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$t13/apt/sources" \
		-o Dir::State::Lists="$t13/apt/lists" -o Dir::Cache="$t13/apt/cache" \
		-o Dir::State::status=/dev/null "${@:2}"
}
if [ ! -f "$t13/apt/.updated" ] || [ -n "$(find "$t13/apt/.updated" -mmin +720)" ]; then
	mkdir -p "$t13/apt/sources" "$t13/apt/lists/partial" "$t13/apt/cache/archives/partial"
	src=$(grep -l -E '^Suites:.*bookworm' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
	if [ -n "$src" ]; then
		sed -e '/^Suites:/s/bookworm/trixie/g' "$src" >"$t13/apt/sources/trixie.sources"
	else
		# A machine with a one-line sources.list: Debian's own mirror.
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$t13/apt/sources/trixie.sources"
	fi
	apt13 apt-get update -qq
	touch "$t13/apt/.updated"
fi
pkg13=$(apt13 apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg13" ]; then
	echo "setup: cannot resolve Debian 13's linux-image-amd64 to a versioned kernel package" >&2
	exit 1
fi
release13=${pkg13#linux-image-}
kmod13=$t13/kmod
kver13=$(apt13 apt-cache policy kmod | awk '$1 == "Candidate:" { print $2 }')
if [ ! -f "$kmod13/.done-$kver13" ]; then
	echo "setup: fetching Debian 13's kmod $kver13"
	rm -rf "$kmod13"
	mkdir -p "$kmod13/deb" "$kmod13/bin"
	chmod 0777 "$kmod13/deb"
	(cd "$kmod13/deb" && apt13 apt-get download -q kmod libkmod2 libc6 libssl3t64 liblzma5 libzstd1 zlib1g >/dev/null)
	for d in "$kmod13"/deb/*.deb; do dpkg-deb -x "$d" "$kmod13/root"; done
	rm -rf "$kmod13/deb"
	# Wrappers run Debian 13's kmod with its own loader and libraries
	# under the tool's name (kmod dispatches on argv[0]).
	for tool in kmod modprobe depmod modinfo insmod rmmod lsmod; do
		printf '#!/bin/sh\nd=%s\nexec "$d/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$d/usr/lib/x86_64-linux-gnu" --argv0 %s "$d/usr/bin/kmod" "$@"\n' \
			"$kmod13/root" "$tool" >"$kmod13/bin/$tool"
		chmod 0755 "$kmod13/bin/$tool"
	done
	"$kmod13/bin/modprobe" -V | grep -q '^kmod version ' || { echo "setup: Debian 13's kmod does not run" >&2; exit 1; }
	touch "$kmod13/.done-$kver13"
fi
dir13=$t13/$pkg13
if [ ! -f "$dir13/.done" ]; then
	echo "setup: fetching Debian 13's $pkg13"
	rm -rf "$dir13"
	mkdir -p "$dir13"
	chmod 0777 "$dir13"
	(cd "$dir13" && apt13 apt-get download -q "$pkg13" >/dev/null)
	dpkg-deb -x "$dir13"/*.deb "$dir13/root"
	rm -f "$dir13"/*.deb
	# Merged /usr, as on an installed Debian 13: /lib is usr/lib.
	[ -e "$dir13/root/lib" ] || ln -s usr/lib "$dir13/root/lib"
	"$kmod13/bin/depmod" -b "$dir13/root" "$release13"
	touch "$dir13/.done"
fi
fetch_symvers apt13 "linux-headers-$release13" "$t13/linux-headers-$release13"
echo "$t13/linux-headers-$release13/Module.symvers" >"$t13/symvers"
echo "$dir13/root $release13" >"$t13/current"
echo "$kmod13/bin" >"$t13/kmod-bin"
echo "setup: Debian 13 kernel tree $dir13/root ($release13), kmod $("$kmod13/bin/modprobe" -V | head -n1 | cut -d' ' -f3) in $kmod13/bin"
