#!/usr/bin/env bash
# Times Debian's kmod depmod against gokmod depmod on the Debian kernel
# tree that scripts/setup.sh fetched (.cache/debian/current names it:
# "ROOT RELEASE").
#
# Both run on a mirror of the module directory: symbolic links to its
# kernel/ directory and input files, none of its index files, so the real
# tree is never written. kmod's depmod writes its indexes into the mirror
# ("depmod -b BASE RELEASE"); gokmod's writes them into a directory of its
# own ("gokmod depmod -b BASE -o OUT RELEASE"). Neither reads the other's
# output. Both get an empty configuration directory (-C), so the host's
# depmod.d does not matter.
#
# After one warm-up run each (the tree in the page cache), the two run in
# ROUNDS alternating rounds (default 7) so that other load on the machine
# weighs on both alike. The script prints the median wall time and CPU
# time (user + system) of each, and the ratios gokmod/kmod (the target is
# 0.6 or less for wall time). It checks once that both wrote the same
# text files.
#
# Usage: scripts/bench-depmod.sh
# Environment: ROUNDS, GO, DEPMOD (kmod's depmod, default: found on PATH or
# in /usr/sbin, /sbin).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
ROUNDS=${ROUNDS:-7}
DEPMOD=${DEPMOD:-$(PATH=$PATH:/usr/sbin:/sbin command -v depmod || true)}
if [ -z "$DEPMOD" ]; then
	echo "bench-depmod: kmod's depmod not found (Debian package kmod)" >&2
	exit 1
fi
if [ ! -r .cache/debian/current ]; then
	echo "bench-depmod: no Debian tree; run scripts/setup.sh" >&2
	exit 1
fi
read -r root release <.cache/debian/current
moddir=$root/lib/modules/$release
if [ ! -d "$moddir/kernel" ]; then
	echo "bench-depmod: $moddir/kernel missing; run scripts/setup.sh" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/gokmod" ./cmd/gokmod

base=$tmp/base
mirror=$base/lib/modules/$release
mkdir -p "$mirror" "$tmp/conf" "$tmp/out"
for entry in "$moddir"/*; do
	name=${entry##*/}
	case $name in
	modules.dep | modules.alias | modules.softdep | modules.symbols | modules.devname | modules.weakdep | *.bin) ;;
	*) ln -s "$entry" "$mirror/$name" ;;
	esac
done
nmods=$(find -L "$mirror/kernel" -name '*.ko*' | wc -l)

# The machine's kmod is Debian 12's kmod 30; gokmod follows it, and its
# -o DIR then writes the files into DIR.
export GOKMOD_COMPAT=kmod30
kmod_cmd=("$DEPMOD" -b "$base" -C "$tmp/conf" "$release")
ours_cmd=("$tmp/gokmod" depmod -b "$base" -C "$tmp/conf" -o "$tmp/out" "$release")

# timed NAME CMD...: runs CMD, which must succeed silently, and appends
# "WALL CPU" in seconds to $tmp/NAME.
timed() {
	local name=$1
	shift
	local t
	t=$({
		TIMEFORMAT='%R %U %S'
		time "$@" >"$tmp/stdout" 2>"$tmp/stderr"
	} 2>&1) || {
		echo "bench-depmod: $* failed:" >&2
		cat "$tmp/stderr" >&2
		exit 1
	}
	if [ -s "$tmp/stdout" ] || [ -s "$tmp/stderr" ]; then
		echo "bench-depmod: $* wrote output:" >&2
		head -5 "$tmp/stdout" "$tmp/stderr" >&2
		exit 1
	fi
	echo "$t" | awk '{ printf "%.4f %.4f\n", $1, $2 + $3 }' >>"$tmp/$name"
}

# Warm up, and check that both wrote the same text files.
timed warm "${kmod_cmd[@]}"
timed warm "${ours_cmd[@]}"
for f in modules.dep modules.alias modules.softdep modules.symbols modules.devname; do
	if ! cmp -s "$mirror/$f" "$tmp/out/$f"; then
		echo "bench-depmod: WARNING: kmod's and gokmod's $f differ" >&2
	fi
done

for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then
		timed kmod "${kmod_cmd[@]}"
		timed ours "${ours_cmd[@]}"
	else
		timed ours "${ours_cmd[@]}"
		timed kmod "${kmod_cmd[@]}"
	fi
done

# median FILE COLUMN
median() {
	sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
kw=$(median "$tmp/kmod" 1)
kc=$(median "$tmp/kmod" 2)
ow=$(median "$tmp/ours" 1)
oc=$(median "$tmp/ours" 2)

echo "depmod on $release ($nmods modules), $ROUNDS alternating rounds, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %10s %10s\n' "" "wall s" "cpu s"
printf '%-22s %10.3f %10.3f\n' "kmod $("$DEPMOD" --version | head -1 | awk '{ print $NF }')" "$kw" "$kc"
printf '%-22s %10.3f %10.3f\n' "gokmod" "$ow" "$oc"
awk -v kw="$kw" -v kc="$kc" -v ow="$ow" -v oc="$oc" 'BEGIN {
	printf "%-22s %10.2f %10.2f   (target: wall <= 0.60)\n", "ratio gokmod/kmod", ow / kw, oc / kc
}'
