#!/usr/bin/env bash
# Shows what gokmod modprobe plans for a few modules of Debian's current
# kernel tree, next to what kmod's modprobe prints for the same request,
# then boots that kernel under qemu and loads modules with gokmod there
# (internal/vmtest/cmd/demo).
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
echo "Those were plans only. This machine's kernel cannot load modules, so the loads"
echo "happen in Debian's kernel under qemu (scripts/setup.sh installs it), with /bin/gokmod:"
echo
go run ./internal/vmtest/cmd/demo -tree "$root" -release "$release"
