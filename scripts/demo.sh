#!/usr/bin/env bash
# Shows what gokmod modprobe plans for a few modules of Debian's current
# kernel tree, next to what kmod's modprobe prints for the same request.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r root release <.cache/debian/current
go build -o bin/gokmod ./cmd/gokmod
ln -sf gokmod bin/modprobe
run() {
	echo "\$ modprobe -d ROOT -S $release $*"
	echo "--- gokmod"
	bin/modprobe -d "$root" -S "$release" "$@" 2>&1 | sed "s|$root|ROOT|g" || true
	echo "--- kmod $(modprobe -V | head -1 | cut -d' ' -f3)"
	modprobe -d "$root" -S "$release" "$@" 2>&1 | sed "s|$root|ROOT|g" || true
	echo
}
run --show-depends ip_vs_wrr
run --show-depends dummy numdummies=3
run --resolve-alias 'pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00'
run --show-depends --all ext4 fs-vfat no-such-module
echo "Loading into a running kernel comes with the kernel issue; these are plans only."
