#!/usr/bin/env bash
# Compares gokmod's userspace decompression (BenchmarkDecompress in
# internal/modfile/bench_test.go) with the host's gzip, xz and zstd on the same
# files: the largest module of the Debian kernel tree (make setup),
# compressed as kbuild's scripts/Makefile.modinst does, and once more with
# xz in multi-threaded mode (xz 5.6's default), which writes 3 MiB blocks.
#
# Both sides are measured in ROUNDS alternating rounds (default 5) so that
# other load on the machine weighs on both alike; each round runs the Go
# benchmark for BENCHTIME (default 1s) and every tool RUNS times (default
# 5, with hyperfine when installed, else a shell loop timing each run).
# The figures are medians over the rounds, in MB/s (10^6 bytes of
# decompressed output per second, as go test reports), from wall time and
# from CPU time (user + system, all threads; the benchmark's cpu-ns/op and
# hyperfine's user + system; CPU time needs hyperfine). CPU time is less
# sensitive to other load on a shared machine; for parallel xz it measures
# work, not speed. A tool's time includes its process start-up, shown in
# its own column (the same tool decoding an empty file): small next to the
# module's time.
#
# With the argument "debian13" it measures instead the xz decoder's CPU
# time per decompressed byte over every module of Debian 13's tree (4230
# .ko.xz files, as Debian's kbuild compressed them; make setup), against
# liblzma: BenchmarkDecompressDebian13/gokmod (the modules read into
# memory beforehand, decoded one after the other) and, in C,
# internal/modfile/testdata/xzbench/xzbench.c (liblzma's single-call
# decoder on the same files in memory) linked with the host's liblzma
# (5.4.1 on Debian 12) and run through Debian 13's loader with Debian
# 13's liblzma (5.8.1), in ROUNDS alternating rounds (default 3). It
# prints the median ns of CPU time per byte of each and the ratio
# liblzma/gokmod (speed relative to liblzma; the target is 0.7 or more of
# 5.8.1's). It needs gcc and lzma.h (Debian package liblzma-dev).
#
# Usage: scripts/bench-decompress.sh [debian13]
# Environment: MODULE (a .ko to use instead of the largest), ROUNDS, RUNS,
# BENCHTIME, GO.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${RUNS:-5}
BENCHTIME=${BENCHTIME:-1s}

# median prints the median of the numbers on its input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2 }'; }

if [ "${1:-}" = debian13 ]; then
	ROUNDS=${ROUNDS:-3}
	read -r root13 release13 <.cache/debian13/current
	lib13=.cache/debian13/kmod/root/usr/lib/x86_64-linux-gnu
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	find "$root13/lib/modules/$release13" -name '*.ko.xz' | sort >"$tmp/list"
	gcc -O2 -o "$tmp/xzbench" internal/modfile/testdata/xzbench/xzbench.c -llzma
	"$GO" test -c -o "$tmp/modfile.test" ./internal/modfile >/dev/null
	for ((round = 1; round <= ROUNDS; round++)); do
		echo "bench-decompress: debian13 round $round of $ROUNDS" >&2
		(cd internal/modfile && "$tmp/modfile.test" -test.run '^$' -test.bench '^BenchmarkDecompressDebian13$/^gokmod$' -test.benchtime 1x) |
			awk '/^BenchmarkDecompressDebian13\/gokmod/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/B") print "gokmod", $i }' >>"$tmp/r.txt"
		"$tmp/xzbench" 1 <"$tmp/list" | awk '{ print "host", $(NF-1) }' >>"$tmp/r.txt"
		"$lib13/ld-linux-x86-64.so.2" --library-path "$lib13" "$tmp/xzbench" 1 <"$tmp/list" | awk '{ print "d13", $(NF-1) }' >>"$tmp/r.txt"
	done
	host=$("$tmp/xzbench" 0 </dev/null | awk '{ print $2 }' | tr -d :)
	d13=$("$lib13/ld-linux-x86-64.so.2" --library-path "$lib13" "$tmp/xzbench" 0 </dev/null | awk '{ print $2 }' | tr -d :)
	g=$(awk '$1 == "gokmod" { print $2 }' "$tmp/r.txt" | median)
	h=$(awk '$1 == "host" { print $2 }' "$tmp/r.txt" | median)
	d=$(awk '$1 == "d13" { print $2 }' "$tmp/r.txt" | median)
	echo
	echo "modules: $(wc -l <"$tmp/list") .ko.xz of $root13 ($release13)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $("$GO" version | cut -d' ' -f3); load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '| %-26s | %10s | %16s |\n' decoder "CPU ns/B" "liblzma/decoder"
	printf '|%s|%s|%s|\n' "----------------------------" "-----------:" "-----------------:"
	printf '| %-26s | %10s | %16s |\n' "gokmod" "$g" ""
	printf '| %-26s | %10s | %16s |\n' "liblzma $host (host)" "$h" "$(awk -v a="$h" -v b="$g" 'BEGIN { printf "%.2f", a / b }')"
	printf '| %-26s | %10s | %16s |\n' "liblzma $d13 (Debian 13)" "$d" "$(awk -v a="$d" -v b="$g" 'BEGIN { printf "%.2f", a / b }')"
	exit 0
fi
ROUNDS=${ROUNDS:-5}

read -r root release <.cache/debian/current
if [ -z "${MODULE:-}" ]; then
	MODULE=$(find "$root/lib/modules/$release/kernel" -name '*.ko' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
fi
dir=.cache/bench-decompress
mkdir -p "$dir"
if ! cmp -s "$MODULE" "$dir/module.ko"; then
	echo "bench-decompress: compressing $MODULE (xz takes a while)" >&2
	cp "$MODULE" "$dir/module.ko"
	# The commands of scripts/Makefile.modinst (Linux 6.8 and later),
	# and the names internal/modfile/bench_test.go expects.
	gzip -n -f -c "$dir/module.ko" >"$dir/module.ko.gz"
	xz --check=crc32 --lzma2=dict=1MiB -f -c "$dir/module.ko" >"$dir/module.ko.xz"
	xz -T2 --check=crc32 --lzma2=dict=1MiB -f -c "$dir/module.ko" >"$dir/module.mt.ko.xz"
	zstd -q -f -c "$dir/module.ko" >"$dir/module.ko.zst"
fi
dir=$(cd "$dir" && pwd)
size=$(stat -c %s "$dir/module.ko")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/empty"
gzip -n -c "$tmp/empty" >"$tmp/empty.gz"
xz --check=crc32 -c "$tmp/empty" >"$tmp/empty.xz"
zstd -q -c "$tmp/empty" >"$tmp/empty.zst"

"$GO" test -c -o "$tmp/modfile.test" ./internal/modfile >/dev/null
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# Each tool row: name, Go sub-benchmark, command (with FILE for the input).
rows=(
	"gzip|gzip|gzip -dc FILE|$dir/module.ko.gz|$tmp/empty.gz"
	"xz|xz|xz -T1 -dc FILE|$dir/module.ko.xz|$tmp/empty.xz"
	"xz, 3 MiB blocks|xz-mt|xz -T1 -dc FILE|$dir/module.mt.ko.xz|$tmp/empty.xz"
	"xz, 3 MiB blocks, 2 threads|xz-mt|xz -T2 -dc FILE|$dir/module.mt.ko.xz|$tmp/empty.xz"
	"zstd|zstd|zstd -dc FILE|$dir/module.ko.zst|$tmp/empty.zst"
)

# measure prints one line per run of a command: its wall time in seconds,
# and with hyperfine, after the runs, a line "cpu SECONDS" (mean user +
# system time).
measure() {
	local cmd=$1
	if command -v hyperfine >/dev/null; then
		hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$tmp/h.json" "$cmd" >/dev/null 2>&1
		tr -d ' \n' <"$tmp/h.json" | grep -o '"times":\[[^]]*\]' | head -1 |
			sed 's/.*\[//; s/\]//' | tr ',' '\n'
		tr -d ' \n' <"$tmp/h.json" | grep -o '"user":[0-9.e-]*,"system":[0-9.e-]*' | head -1 |
			awk -F'[:,]' '{ printf "cpu %.6f\n", $2 + $4 }'
	else
		local i t0 t1
		$cmd >/dev/null
		for ((i = 0; i < RUNS; i++)); do
			t0=$(date +%s%N)
			$cmd >/dev/null
			t1=$(date +%s%N)
			echo "$(((t1 - t0) / 1000)) 1000000" | awk '{ printf "%.6f\n", $1 / $2 }'
		done
	fi
}

for ((round = 1; round <= ROUNDS; round++)); do
	echo "bench-decompress: round $round of $ROUNDS" >&2
	(cd "$tmp" && GOKMOD_BENCH_DECOMPRESS_DIR=$dir ./modfile.test -test.run '^$' \
		-test.bench '^BenchmarkDecompress$' -test.benchtime "$BENCHTIME") |
		awk -v size="$size" '/^BenchmarkDecompress\// { n = split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]);
			for (i = 1; i < NF; i++) {
				if ($(i+1) == "MB/s") print a[2], "wall", $i
				if ($(i+1) == "cpu-ns/op") printf "%s cpu %.1f\n", a[2], size / $i * 1000
			} }' >>"$tmp/go.txt"
	for ((i = 0; i < ${#rows[@]}; i++)); do
		IFS='|' read -r _ _ cmd file empty <<<"${rows[$i]}"
		measure "${cmd/FILE/$file}" | sed "s/^/$i /" >>"$tmp/tool.txt"
		measure "${cmd/FILE/$empty}" | sed "s/^/$i /" >>"$tmp/start.txt"
	done
done

echo
echo "module: $MODULE ($size bytes)"
echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')); $("$GO" version | cut -d' ' -f3)"
echo "tools:  $(gzip --version | head -1); $(xz --version | head -1); $(zstd --version | sed 's/^\*\*\* //; s/, by.*//')"
echo "rounds: $ROUNDS, each: go test -bench BenchmarkDecompress -benchtime $BENCHTIME, and each tool $RUNS times"
echo "load:   $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min; on $(nproc) CPUs)"
echo
mbs() { awk -v s="$size" '{ if ($1 > 0) printf "%.1f\n", s / $1 / 1e6 }'; }
ratio() { awk -v g="$1" -v t="$2" 'BEGIN { if (g != "" && t != "") printf "%.2f", g / t; else printf "-" }'; }

printf '| %-28s | %10s | %-11s | %7s | %7s | %7s | %7s | %7s | %7s | %8s |\n' \
	format compressed tool "Go MB/s" "tool" "Go/tool" "Go CPU" "tool CPU" "Go/tool" "start-up"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "-----------:" "-------------" \
	"--------:" "--------:" "--------:" "--------:" "--------:" "--------:" "---------:"
for ((i = 0; i < ${#rows[@]}; i++)); do
	IFS='|' read -r name bench cmd file _ <<<"${rows[$i]}"
	gowall=$(awk -v b="$bench" '$1 == b && $2 == "wall" { print $3 }' "$tmp/go.txt" | median)
	gocpu=$(awk -v b="$bench" '$1 == b && $2 == "cpu" { print $3 }' "$tmp/go.txt" | median)
	toolwall=$(awk -v i="$i" '$1 == i && $2 != "cpu" { print $2 }' "$tmp/tool.txt" | median | mbs)
	toolcpu=$(awk -v i="$i" '$1 == i && $2 == "cpu" { print $3 }' "$tmp/tool.txt" | median | mbs)
	st=$(awk -v i="$i" '$1 == i && $2 != "cpu" { print $2 }' "$tmp/start.txt" | median)
	printf '| %-28s | %10s | %-11s | %7.1f | %7s | %7s | %7s | %7s | %7s | %8s |\n' "$name" "$(stat -c %s "$file")" \
		"${cmd/ FILE/}" "$gowall" "$toolwall" "$(ratio "$gowall" "$toolwall")" \
		"${gocpu:--}" "${toolcpu:--}" "$(ratio "$gocpu" "$toolcpu")" "$(awk -v t="$st" 'BEGIN { printf "%.1f ms", t * 1000 }')"
done
