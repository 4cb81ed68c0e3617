#!/bin/bash
# small-files.sh - many small files onto a fusetape volume and back, the
# case LTFS is known to be slow at (one index entry per file, all of it XML).
#
# For each storage (disk: /var/tmp, memory: /dev/shm) and each of BENCH_RUNS
# runs:
#   ceiling  tar -x of the tree into a plain directory on that storage + sync,
#            and tar -c of it (through a pipe, so tar reads the data) after
#            dropping the page cache
#   write    tar -x into a freshly formatted, mounted volume, timed until the
#            daemon has exited after the unmount (index on the "tape")
#   read     tar -c of the mounted tree after a fresh mount (cache dropped)
# and prints files/s, the daemon's CPU seconds, the ratio to the plain
# directory and the size of the final index; then the medians.  The first
# run's read-back is compared with the source tree (diff -r, untimed).
#
# Environment: BENCH_FILES (10000), BENCH_FILE_SIZE (4K), BENCH_RUNS (3),
# BENCH_STORAGE ("/var/tmp /dev/shm"), FUSETAPE_REL_BIN (build/rel/bin).
# Needs root.  Not part of make check.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
bin=${FUSETAPE_REL_BIN:-$root/build/rel/bin}
files=${BENCH_FILES:-10000}
fsize=$(numfmt --from=iec "${BENCH_FILE_SIZE:-4K}")
runs=${BENCH_RUNS:-3}
storages=${BENCH_STORAGE:-/var/tmp /dev/shm}

die() { echo "small-files: $*" >&2; exit 1; }
. bench/lib.sh
bench_check fusetape mkfs.fusetape fsck.fusetape
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

echo "fusetape small-files: $files files of $fsize bytes, $runs run(s), binaries $bin"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
src=$work/src
for ((d = 0; d < (files + 99) / 100; d++)); do
	mkdir -p "$src/d$d"
	for ((f = 0; f < 100 && d * 100 + f < files; f++)); do
		head -c "$fsize" /dev/urandom >"$src/d$d/f$f"
	done
done
tar -cf "$work/src.tar" -C "$src" .
tar_bytes=$(stat -c %s "$work/src.tar")

summary=()
for storage in $storages; do
	storage_dir "$storage" || continue
	img_size=$(( tar_bytes * 3 + 512 * 1048576 ))
	echo
	echo "== $storage ($(stat -f -c %T "$storage"))"
	printf '%-4s %12s %12s %7s %7s %12s %12s %7s %7s %12s\n' run plain-x fs-x ratio cpu-s \
		plain-c fs-c ratio cpu-s index
	px=() fx=() xr=() xc=() pc=() fc=() cr=() cc=() ix=()
	for run in $(seq "$runs"); do
		rm -rf "$dir/plain"
		mkdir -p "$dir/plain"
		drop_caches
		t0=$(now)
		tar -xf "$work/src.tar" -C "$dir/plain"
		sync
		t1=$(now)
		plx=$(rate "$files" "$(elapsed "$t0" "$t1")")
		drop_caches
		t0=$(now)
		tar -cf - -C "$dir/plain" . | cat >/dev/null
		t1=$(now)
		plc=$(rate "$files" "$(elapsed "$t0" "$t1")")
		rm -rf "$dir/plain"

		new_volume "$img" "$img_size"
		drop_caches
		mount_volume "$img" "$work/cpu-write"
		t0=$(now)
		tar -xf "$work/src.tar" -C "$mnt"
		unmount_volume
		t1=$(now)
		fsx=$(rate "$files" "$(elapsed "$t0" "$t1")")
		cpux=$(cpu_seconds "$work/cpu-write")
		index=$("$bin/fsck.fusetape" -v "$img" | sed -n 's/^Partition b: .*(\([0-9]*\) bytes, .*/\1/p')

		drop_caches
		mount_volume "$img" "$work/cpu-read"
		t0=$(now)
		tar -cf - -C "$mnt" . | cat >/dev/null
		t1=$(now)
		fsc=$(rate "$files" "$(elapsed "$t0" "$t1")")
		if [ "$run" -eq 1 ] && ! diff -r "$src" "$mnt" >/dev/null; then
			die "run $run on $storage: the tree read back differs from the source"
		fi
		unmount_volume
		cpuc=$(cpu_seconds "$work/cpu-read")

		printf '%-4s %6s file/s %6s file/s %7s %7s %6s file/s %6s file/s %7s %7s %12s\n' "$run" \
			"$plx" "$fsx" "$(ratio "$fsx" "$plx")" "$cpux" "$plc" "$fsc" \
			"$(ratio "$fsc" "$plc")" "$cpuc" "$index"
		px+=("$plx") fx+=("$fsx") xr+=("$(ratio "$fsx" "$plx")") xc+=("$cpux")
		pc+=("$plc") fc+=("$fsc") cr+=("$(ratio "$fsc" "$plc")") cc+=("$cpuc") ix+=("$index")
	done
	mapfile -t med < <(medians px fx xr xc pc fc cr cc ix)
	line=$(printf '%-4s %6s file/s %6s file/s %7s %7s %6s file/s %6s file/s %7s %7s %12s' median "${med[@]}")
	echo "$line"
	summary+=("$storage: $line")
	rm -rf "$dir"
done

print_summary "medians ($files files of $fsize bytes; -x = tar -x until the index is written, -c = tar -c after remount; index in bytes)" \
	"the first read-back of each storage matched the source tree"
