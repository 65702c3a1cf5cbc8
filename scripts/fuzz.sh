#!/usr/bin/env bash
# Runs every Go fuzz target of the repository, one after the other, for the
# given duration each (default 2m; any -fuzztime value works, e.g. 30s or
# 10000x), and stops at the first failure. Targets are discovered with
# "go test -list"; a failing input is left in the package's
# testdata/fuzz/<Target>/ directory, where plain "go test" replays it.
#
# Go minimizes every input that finds new coverage, trying a number of
# candidates quadratic in its size, for up to -fuzzminimizetime (60s by
# default); executions spent minimizing are not counted and a worker
# fuzzes nothing meanwhile. With kilobyte-sized index seeds that can eat
# most of a short run, so minimization is capped at FUZZMINIMIZETIME
# (default 10s), which is still plenty for a crasher. Targets whose single
# run costs milliseconds (they build images, write trees, or compress)
# find "new" coverage in almost every input, as temporary names and
# garbage collection vary; 10s of minimizing each would leave them no time
# to fuzz, so they are capped at SLOWMINIMIZE (default 20x, i.e. 20 runs)
# unless FUZZMINIMIZETIME is set.
#
# Usage: scripts/fuzz.sh [DURATION]
# Environment: GO (go command), FUZZMINIMIZETIME, SLOWMINIMIZE, FUZZFLAGS
# (extra flags for go test, e.g. "-parallel 1").
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-2m}
GO=${GO:-go}
minimize=${FUZZMINIMIZETIME:-10s}
slowminimize=${FUZZMINIMIZETIME:-${SLOWMINIMIZE:-20x}}
# slow lists the slow targets as "PACKAGE TARGET".
slow=" github.com/gokmod/modprobe/kmodimage FuzzExtract | github.com/gokmod/modprobe/kmodimage FuzzExtractLayers | github.com/gokmod/modprobe/internal/modfile FuzzDecompressRoundTrip "
read -r -a extra <<<"${FUZZFLAGS:-}"

# "go test -list" prints the matching names of each package followed by a
# line "ok <package> <time>"; packages without tests print "? ...".
list=$("$GO" test -list '^Fuzz' ./...)
targets=()
names=()
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{ print $2 }' <<<"$line")
		for n in "${names[@]}"; do
			targets+=("$pkg $n")
		done
		names=()
		;;
	esac
done <<<"$list"

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# corpus lists the files of a target's committed corpus directory.
corpus() {
	local dir
	dir=$("$GO" list -f '{{.Dir}}' "$1")/testdata/fuzz/$2
	if [ -d "$dir" ]; then
		(cd "$dir" && ls -A)
	fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "fuzz: ${#targets[@]} targets, $duration each"
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name ($pkg)"
	before=$(corpus "$pkg" "$name")
	status=0
	mt=$minimize
	case $slow in
	*" $pkg $name "*) mt=$slowminimize ;;
	esac
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime "$mt" \
		${extra[@]+"${extra[@]}"} "$pkg" 2>&1 | tee "$log" || status=$?
	if [ "$status" -eq 0 ]; then
		continue
	fi
	# Go 1.26 and older can fail a run that ends by -fuzztime with a bare
	# "context deadline exceeded" and no failing input: a race in the
	# fuzzing coordinator (go.dev/issue/75804, fixed in Go 1.27). Only
	# that exact outcome is forgiven.
	if [ "$(corpus "$pkg" "$name")" = "$before" ] &&
		grep -qx '    context deadline exceeded' "$log" &&
		! grep -q -e 'Failing input written' -e '^        ' "$log"; then
		echo "fuzz: $name: ignoring Go's end-of-run deadline race (go.dev/issue/75804); no failing input" >&2
		continue
	fi
	echo "fuzz: $name in $pkg failed" >&2
	exit 1
done
echo "fuzz: all ${#targets[@]} targets passed"
