#!/usr/bin/env bash
# Runs every benchmark of docs/benchmarks.md and writes the document from
# its template (docs/benchmarks.md.in): every figure in it is measured in
# this one run, gokmod against its anchor (kmod 30, kmod 34.2, libkmod,
# liblzma) in alternating rounds, with the date, the load and the commit.
#
# Usage: scripts/bench.sh            (make bench)
# Environment:
#   ROUNDS      rounds of every A/B comparison (default 5)
#   VM_ROUNDS   boots of the VM benchmarks, one ratio each (default 3; 0 skips them)
#   VM_ITER     iterations a boot (GOKMOD_VM_BENCHTIME, default 5x)
#   VM_SLOW_ITER iterations of the one boot of the boot-time benchmarks
#               (modules-load.d, coldplug; default 3x)
#   QUICK=1     a fast run for development: 2 rounds, fewer runs, a sample
#               of the modules for xz and u-root, no VM unless VM_ROUNDS is
#               set; the document is marked as such and goes to OUTDIR,
#               not docs/ (unless DOC says otherwise)
#   OUTDIR      where the rows, summary, meta, logs and sections go
#               (default bench/results)
#   DOC         document to write (default docs/benchmarks.md; with QUICK=1
#               OUTDIR/benchmarks.md)
#   GO          go command
# The summary (OUTDIR/summary.tsv, also printed) has one line per goal:
# pattern, row ID, metric, op, target, median, min, max, met|missed|absent.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

GO=${GO:-go}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-2}
	VM_ROUNDS=${VM_ROUNDS:-0}
	VM_ITER=${VM_ITER:-1x}
	VM_SLOW_ITER=${VM_SLOW_ITER:-1x}
	FAST_RUNS=10  # runs a round of a command of a few ms
	MID_RUNS=1    # runs a round of a command of a few hundred ms
	XZ_EVERY=40   # every Nth Debian 13 module for xz
	UROOT_SAMPLE=100
	PLAN_PASSES=3
else
	ROUNDS=${ROUNDS:-5}
	VM_ROUNDS=${VM_ROUNDS:-3}
	VM_ITER=${VM_ITER:-5x}
	VM_SLOW_ITER=${VM_SLOW_ITER:-3x}
	FAST_RUNS=40
	MID_RUNS=3
	XZ_EVERY=1
	UROOT_SAMPLE=0
	PLAN_PASSES=7
fi
OUTDIR=${OUTDIR:-$repo/bench/results}
if [ "$QUICK" = 1 ]; then
	DOC=${DOC:-$OUTDIR/benchmarks.md}
else
	DOC=${DOC:-$repo/docs/benchmarks.md}
fi
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
rows=$OUTDIR/rows.tsv
meta=$OUTDIR/meta.tsv
rm -f "$rows" "$meta" "$OUTDIR"/vm-*.log "$OUTDIR"/*.md

need() {
	if [ ! -e "$1" ]; then
		echo "bench: $1 missing: run make setup" >&2
		exit 1
	fi
}
need .cache/debian/current
need .cache/debian13/current
read -r root12 rel12 <.cache/debian/current
read -r root13 rel13 <.cache/debian13/current
kmod13=$(cd "$(cat .cache/debian13/kmod-bin)/.." && pwd)/root
lib13=$kmod13/usr/lib/x86_64-linux-gnu
# kmod 34.2 run as its wrappers run it, without their shell: Debian 13's
# loader, its libraries, kmod dispatching on --argv0.
kmod34() { echo "$lib13/ld-linux-x86-64.so.2" --library-path "$lib13" --argv0 "$1" "$kmod13/usr/bin/kmod"; }
kmod30=/usr/bin/kmod
for t in "$kmod30" "$lib13/ld-linux-x86-64.so.2" "$kmod13/usr/bin/kmod"; do need "$t"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$(date +%s)
m() { printf '%s\t%s\n' "$1" "$2" >>"$meta"; }
m date "$(date -u '+%Y-%m-%d %H:%M UTC')"
m load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
m commit "$(git rev-parse --short=12 HEAD)"
dirty=$(git status --porcelain --untracked-files=no | wc -l)
if [ "$dirty" -gt 0 ]; then
	m dirty "yes: uncommitted changes to $dirty tracked files"
else
	m dirty "no"
fi
m quick "$QUICK"
m rounds "$ROUNDS"
m fast_runs "$FAST_RUNS"
m mid_runs "$MID_RUNS"
m vm_rounds "$VM_ROUNDS"
m vm_iter "$VM_ITER"
m vm_slow_iter "$VM_SLOW_ITER"
m cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
m nproc "$(nproc)"
m host_kernel "$(uname -r)"
m go "$("$GO" version | cut -d' ' -f3)"
m gcc "$(gcc --version | head -1)"
m kmod30 "$($kmod30 --version | head -1)"
m kmod34 "$($(kmod34 kmod) --version | head -1)"
m tree12 "$rel12 ($(wc -l <"$root12/lib/modules/$rel12/modules.dep") modules)"
m tree13 "$rel13 ($(wc -l <"$root13/lib/modules/$rel13/modules.dep") modules)"
m outdir "$OUTDIR"

echo "bench: building" >&2
(cd bench && GOWORK=off "$GO" build -o "$tmp/bench" .)
# The programs whose start-up is timed are installed as a package manager,
# go install or cp installs them: copied with write(2). The file go build
# leaves is the linker's, written through a memory mapping, and its page
# cache is laid out differently: the same bytes started slower than a
# copy of them (gokmod modprobe -D: 1.16 wall, 1.18 CPU, medians of 5
# alternating rounds of 80; the hello world 1.09). kmod's binaries were
# installed by dpkg.
install_built() { cp "$1" "$2" && rm -f "$1"; }
"$GO" build -o "$tmp/gokmod.linked" ./cmd/gokmod
install_built "$tmp/gokmod.linked" "$tmp/gokmod"
mkdir -p "$tmp/bin" "$tmp/hello"
ln -s ../gokmod "$tmp/bin/modprobe"
printf 'module hello\n\ngo 1.26\n' >"$tmp/hello/go.mod"
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, world") }\n' >"$tmp/hello/main.go"
(cd "$tmp/hello" && GOWORK=off "$GO" build -o "$tmp/hello-world.linked" .)
install_built "$tmp/hello-world.linked" "$tmp/hello-world"
bench=$tmp/bench
gokmod=$tmp/gokmod

ab() { "$bench" ab -rows "$rows" -rounds "$ROUNDS" "$@"; }

# 1. Whole processes.
ab -id modprobe-D.debian12 -runs "$FAST_RUNS" -warmup 10 -compare \
	--- gokmod GOKMOD_COMPAT=kmod30 "$tmp/bin/modprobe" -d "$root12" -S "$rel12" -D ip_vs_wrr \
	--- "kmod 30" /usr/sbin/modprobe -d "$root12" -S "$rel12" -D ip_vs_wrr \
	--- "Go hello world" "$tmp/hello-world" \
	--- /bin/true /bin/true
# shellcheck disable=SC2046 # kmod34 prints a command line
ab -id modprobe-D.debian13 -runs "$FAST_RUNS" -warmup 10 -compare \
	--- gokmod GOKMOD_COMPAT=kmod34 "$tmp/bin/modprobe" -d "$root13" -S "$rel13" -D ip_vs_wrr \
	--- "kmod 34.2" $(kmod34 modprobe) -d "$root13" -S "$rel13" -D ip_vs_wrr

bundle=$tmp/bundle
mkdir -p "$bundle"
printf '{"ociVersion":"1.0.2","process":{"cwd":"/","args":["/bin/true"],"env":["PATH=/usr/bin:/bin","KERNEL_MODULES=ip_vs_wrr,nls_utf8"]}}\n' >"$bundle/config.json"
printf '{"ociVersion":"1.0.2","id":"gokmod-bench","status":"creating","pid":4242,"bundle":"%s"}\n' "$bundle" >"$tmp/state.json"
# shellcheck disable=SC2046
ab -id oci-hook -runs "$FAST_RUNS" -warmup 10 -stdin "$tmp/state.json" \
	--- "gokmod oci-hook -n" "$gokmod" oci-hook -n \
	--- "kmod 30 modprobe -V" /usr/sbin/modprobe -V \
	--- "kmod 34.2 modprobe -V" $(kmod34 modprobe) -V \
	--- "Go hello world" "$tmp/hello-world"
"$gokmod" oci-hook -n <"$tmp/state.json" >"$OUTDIR/oci-hook.out"

# 2. depmod on a mirror of each tree (symbolic links to the modules and
# the input files, none of the indexes), so the shared tree is never
# written; kmod writes into the mirror, gokmod into a directory of its
# own (-o). Both get an empty configuration directory.
depmod_row() {
	local dist=$1 root=$2 rel=$3 compat=$4 label=$5
	shift 5
	local kmod_depmod=("$@")
	local base=$tmp/depmod-$dist/base out=$tmp/depmod-$dist/out
	local mirror=$base/lib/modules/$rel
	mkdir -p "$mirror" "$out" "$tmp/depmod-$dist/conf"
	for entry in "$root/lib/modules/$rel"/*; do
		case ${entry##*/} in
		modules.dep | modules.alias | modules.softdep | modules.symbols | modules.devname | modules.weakdep | *.bin) ;;
		*) ln -s "$entry" "$mirror/${entry##*/}" ;;
		esac
	done
	"${kmod_depmod[@]}" -b "$base" -C "$tmp/depmod-$dist/conf" "$rel"
	GOKMOD_COMPAT=$compat "$gokmod" depmod -b "$base" -C "$tmp/depmod-$dist/conf" -o "$out" "$rel"
	# kmod 30 and gokmod in its mode put the files in OUT; kmod 34 and
	# gokmod in its mode in OUT/lib/modules/RELEASE.
	local got=$out
	[ -d "$out/lib/modules/$rel" ] && got=$out/lib/modules/$rel
	local check
	check=$("$bench" samefiles "$mirror" "$got")
	ab -id "depmod.$dist" -runs "$MID_RUNS" -warmup 0 -check "$check" \
		--- gokmod GOKMOD_COMPAT="$compat" "$gokmod" depmod -b "$base" -C "$tmp/depmod-$dist/conf" -o "$out" "$rel" \
		--- "$label" "${kmod_depmod[@]}" -b "$base" -C "$tmp/depmod-$dist/conf" "$rel"
}
echo "bench: depmod" >&2
depmod_row debian12 "$root12" "$rel12" kmod30 "kmod 30" /usr/sbin/depmod
# shellcheck disable=SC2046
depmod_row debian13 "$root13" "$rel13" kmod34 "kmod 34.2" $(kmod34 depmod)

# 3. modinfo of every module of each tree in one process.
names() { awk -F: '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); print n }' "$1/lib/modules/$2/modules.dep"; }
mapfile -t names12 < <(names "$root12" "$rel12")
mapfile -t names13 < <(names "$root13" "$rel13")
echo "bench: modinfo" >&2
ab -id modinfo.debian12 -runs "$MID_RUNS" -warmup 0 -compare \
	--- gokmod GOKMOD_COMPAT=kmod30 "$gokmod" modinfo -b "$root12" -k "$rel12" "${names12[@]}" \
	--- "kmod 30" /usr/sbin/modinfo -b "$root12" -k "$rel12" "${names12[@]}"
# shellcheck disable=SC2046
ab -id modinfo.debian13 -runs 1 -warmup 0 -compare \
	--- gokmod GOKMOD_COMPAT=kmod34 "$gokmod" modinfo -b "$root13" -k "$rel13" "${names13[@]}" \
	--- "kmod 34.2" $(kmod34 modinfo) -b "$root13" -k "$rel13" "${names13[@]}"

# 4. xz decoding of every Debian 13 module in memory.
echo "bench: xz" >&2
find "$root13/lib/modules/$rel13/kernel" -name '*.ko.xz' | sort | awk -v n="$XZ_EVERY" '(NR - 1) % n == 0' >"$tmp/xz.list"
m xz_files "$(wc -l <"$tmp/xz.list")"
m xz_bytes "$(xargs stat -c %s <"$tmp/xz.list" | awk '{ s += $1 } END { print s }')"
"$bench" xz -rows "$rows" -rounds "$ROUNDS" -list "$tmp/xz.list" -root13 "$kmod13"

# 5. The comparison program: planning every module (gokmod, libkmod,
# u-root) and the heap, on Debian 12's tree.
echo "bench: planning and heap" >&2
"$bench" -tree "$root12" -release "$rel12" -repo "$repo" -parts ac -rows "$rows" \
	-passes "$PLAN_PASSES" -uroot-sample "$UROOT_SAMPLE" >"$OUTDIR/compare.md"

# 5b. What a program pays for importing a module loader: gokmod's root
# package, u-root's kmodule, pmorjan/kmod (packages, size, package inits).
echo "bench: footprint" >&2
(cd bench && GOWORK=off "$bench" footprint -rows "$rows" -out "$OUTDIR/footprint.md" -rounds "$ROUNDS" -runs "$FAST_RUNS")

# 6. The library's Go benchmarks (planning, lookups, Open), once.
echo "bench: go test -bench" >&2
"$GO" test -run '^$' -bench . -benchmem -count 1 . | grep -E '^(Benchmark|goos|goarch|cpu|pkg)' >"$OUTDIR/gobench.txt"

# 7. The VM benchmarks: VM_ROUNDS boots of each distribution.
for ((i = 1; i <= VM_ROUNDS; i++)); do
	echo "bench: VM benchmarks, boot $i of $VM_ROUNDS" >&2
	CI=true GOKMOD_VM_BENCH='Stack|LoadAll|Startup' GOKMOD_VM_BENCHTIME=$VM_ITER \
		"$GO" test -count=1 -v -timeout 25m -run TestGuest ./internal/vmtest >"$OUTDIR/vm-$i.log" 2>&1 || {
		echo "bench: the VM benchmarks failed; see $OUTDIR/vm-$i.log" >&2
		exit 1
	}
done
# The boot-time benchmarks (modules-load.d, coldplug) take ten to
# twenty seconds an iteration: one boot of VM_SLOW_ITER iterations.
if [ "$VM_ROUNDS" -gt 0 ]; then
	echo "bench: VM boot-time benchmarks" >&2
	CI=true GOKMOD_VM_BENCH='ModulesLoad|Coldplug' GOKMOD_VM_BENCHTIME=$VM_SLOW_ITER \
		"$GO" test -count=1 -v -timeout 25m -run TestGuest ./internal/vmtest >"$OUTDIR/vm-boot.log" 2>&1 || {
		echo "bench: the VM boot-time benchmarks failed; see $OUTDIR/vm-boot.log" >&2
		exit 1
	}
fi
if [ "$VM_ROUNDS" -gt 0 ]; then
	"$bench" vm -rows "$rows" "$OUTDIR"/vm-*.log
	grep -hE '(Benchmark|=== RUN +TestGuest/)' "$OUTDIR"/vm-*.log >"$OUTDIR/vm.txt" || true
fi

m load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
m minutes "$(( ($(date +%s) - started + 30) / 60 ))"
"$bench" render -rows "$rows" -meta "$meta" -template docs/benchmarks.md.in -out "$DOC" -summary "$OUTDIR/summary.tsv"
column -t -s$'\t' "$OUTDIR/summary.tsv"
echo "bench: wrote $DOC; rows, summary and logs in $OUTDIR" >&2
