#!/bin/bash
# tape-queue.sh - the image backend's write paths against the storage's
# O_DIRECT ceiling: BENCH_SIZE of 512 KiB records into a fresh image with
# tape_write() (synchronous, through the page cache) and with
# tape_write_queued() from a registered 64 MiB arena (records in flight,
# io_uring, O_DIRECT), each timed up to and including the final flush,
# next to `dd if=/dev/zero of=FILE bs=1M count=N oflag=direct` on the same
# filesystem.  Run by run (dd, sync, queued, dd, ...) so that all see the
# same background load; prints each run, then medians, the ratios to dd
# and the CPU seconds per GiB of the writing process (all its threads).
# Only the backend is measured: no FUSE, no copy of the data into memory.
#
# Environment: TQ_BUILD (default build/rel: its libfusetape.a is built if
# missing), BENCH_SIZE (2G), BENCH_RUNS (3), BENCH_STORAGE (/var/tmp),
# TQ_DEPTH (records in flight; default the backend's).
set -eu
cd "$(dirname "$0")/.."
build=${TQ_BUILD:-build/rel}
size=${BENCH_SIZE:-2G}
runs=${BENCH_RUNS:-3}
storage=${BENCH_STORAGE:-/var/tmp}
depth=${TQ_DEPTH:-0}

die() { echo "tape-queue: $*" >&2; exit 1; }
bytes=$(numfmt --from=iec "${size%iB}") || die "BENCH_SIZE=$size is not a size"
mib=$(( (bytes + 1048575) / 1048576 ))
bytes=$(( mib * 1048576 ))
[ -d "$storage" ] || die "$storage: no such directory"
if [ ! -f "$build/libfusetape.a" ]; then
	make -s B="$build" VARIANT=rel "$build/libfusetape.a" || die "cannot build $build/libfusetape.a"
fi
work=$(mktemp -d "$storage/tape-queue.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -Ilib \
	-o "$work/tape-queue" bench/tape-queue.c "$build/libfusetape.a" -luuid -luring ||
	die "cannot build the helper"

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mbs() { awk -v s="$1" -v b="$bytes" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
per_gib() { awk -v c="$1" -v b="$bytes" 'BEGIN { printf "%.3f", c * 1073741824 / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }

echo "tape-queue: $mib MiB of 512 KiB records on $storage ($(df -T "$storage" | awk 'NR == 2 { print $2 }')), $runs run(s)"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/dd"; : > "$work/sync"; : > "$work/queued"
for run in $(seq 1 "$runs"); do
	t0=$(now)
	dd if=/dev/zero of="$work/dd.bin" bs=1M count="$mib" oflag=direct status=none
	t1=$(now)
	rm -f "$work/dd.bin"
	dd_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	echo "$dd_s" >> "$work/dd"
	line="run $run: dd $(mbs "$dd_s") MB/s"
	for mode in sync queued; do
		out=$("$work/tape-queue" "$work/img" "$mode" "$bytes" "$depth") || die "$mode run failed"
		rm -f "$work/img"
		set -- $out
		echo "$1 $2" >> "$work/$mode"
		line="$line, $mode $(mbs "$1") MB/s $(per_gib "$2") CPU s/GiB"
		[ "$mode" = queued ] && line="$line (direct $3, fixed $4, depth $5)"
	done
	echo "$line"
done
dd_m=$(median < "$work/dd")
echo "median: dd $(mbs "$dd_m") MB/s"
for mode in sync queued; do
	s=$(cut -d' ' -f1 "$work/$mode" | median)
	c=$(cut -d' ' -f2 "$work/$mode" | median)
	echo "median: $mode $(mbs "$s") MB/s = $(ratio "$s" "$dd_m") of dd, $(per_gib "$c") CPU s/GiB"
done
