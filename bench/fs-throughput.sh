#!/bin/bash
# fs-throughput.sh - how fast is a file copied onto a fusetape volume and read
# back, compared with the storage the virtual tape image lives on?
#
# For each storage (disk: /var/tmp, memory: /dev/shm) and each of BENCH_RUNS
# runs:
#   ceiling  dd of the source file to that storage with O_DIRECT, bs=1M, and
#            back (iflag=direct) after dropping the page cache
#   write    cp of the source file into a freshly formatted, mounted volume,
#            timed until the daemon has exited after the unmount (so the
#            index is on the "tape")
#   read     cat of the file to /dev/null after a fresh mount (page cache
#            dropped), then the copy is compared with the source (untimed)
# and prints MB/s (10^6 bytes/s), the daemon's CPU seconds (user+sys over the
# whole mount) and the ratio to dd, then the medians.
#
# Environment: BENCH_SIZE (default 2G), BENCH_RUNS (3), BENCH_STORAGE ("/var/tmp
# /dev/shm"), FUSETAPE_REL_BIN (build/rel/bin; the optimised build, never
# ASan).  Needs root (FUSE mount, drop_caches).  Not part of make check.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
bin=${FUSETAPE_REL_BIN:-$root/build/rel/bin}
size=${BENCH_SIZE:-2G}
runs=${BENCH_RUNS:-3}
storages=${BENCH_STORAGE:-/var/tmp /dev/shm}

die() { echo "fs-throughput: $*" >&2; exit 1; }
. bench/lib.sh
bench_check fusetape mkfs.fusetape
bytes=$(numfmt --from=iec "${size%iB}") || die "BENCH_SIZE=$size is not a size"
mib=$(( (bytes + 1048575) / 1048576 ))
bytes=$(( mib * 1048576 ))

echo "fusetape fs-throughput: file $mib MiB, $runs run(s), binaries $bin"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
src=$work/source.bin
head -c "$bytes" /dev/urandom >"$src"
src_sum=$(sha256sum <"$src" | cut -d' ' -f1)

summary=()
for storage in $storages; do
	storage_dir "$storage" || continue
	# data + 10% + index partition and slack
	img_size=$(( bytes + bytes / 10 + 256 * 1048576 ))
	fstype=$(stat -f -c %T "$storage")
	echo
	echo "== $storage ($fstype), image of $(( img_size / 1048576 )) MiB"
	printf '%-4s %12s %12s %12s %10s %12s %12s %12s %10s\n' run dd-write fs-write ratio \
		cpu-s dd-read fs-read ratio cpu-s
	dw=() fw=() wr=() wc=() dr=() fr=() rr=() rc=()
	for run in $(seq "$runs"); do
		# ceiling: dd with O_DIRECT to and from the same storage
		rm -f "$dir/dd.out"
		direct=oflag=direct
		if ! dd if="$src" of="$dir/dd.out" bs=1M oflag=direct count=0 2>/dev/null; then
			direct=
			caches_note="${caches_note:+$caches_note; }O_DIRECT unsupported on $storage, dd ran buffered with conv=fsync"
		fi
		drop_caches
		t0=$(now)
		if [ -n "$direct" ]; then
			dd if="$src" of="$dir/dd.out" bs=1M oflag=direct status=none
		else
			dd if="$src" of="$dir/dd.out" bs=1M conv=fsync status=none
		fi
		t1=$(now)
		ddw=$(mbps_between "$bytes" "$t0" "$t1")
		drop_caches
		t0=$(now)
		if [ -n "$direct" ]; then
			dd if="$dir/dd.out" of=/dev/null bs=1M iflag=direct status=none
		else
			dd if="$dir/dd.out" of=/dev/null bs=1M status=none
		fi
		t1=$(now)
		ddr=$(mbps_between "$bytes" "$t0" "$t1")
		rm -f "$dir/dd.out"

		# write: fresh volume, cp, unmount, until the daemon has exited
		new_volume "$img" "$img_size"
		drop_caches
		mount_volume "$img" "$work/cpu-write"
		t0=$(now)
		cp "$src" "$mnt/file.bin"
		unmount_volume
		t1=$(now)
		fsw=$(mbps_between "$bytes" "$t0" "$t1")
		cpuw=$(cpu_seconds "$work/cpu-write")

		# read: fresh mount, cat to /dev/null; then verify untimed
		drop_caches
		mount_volume "$img" "$work/cpu-read"
		t0=$(now)
		cat "$mnt/file.bin" >/dev/null
		t1=$(now)
		fsr=$(mbps_between "$bytes" "$t0" "$t1")
		got=$(sha256sum <"$mnt/file.bin" | cut -d' ' -f1)
		unmount_volume
		cpur=$(cpu_seconds "$work/cpu-read")
		[ "$got" = "$src_sum" ] || die "run $run on $storage: the file read back differs from the source"

		printf '%-4s %9s MB/s %7s MB/s %12s %10s %7s MB/s %7s MB/s %12s %10s\n' "$run" \
			"$ddw" "$fsw" "$(ratio "$fsw" "$ddw")" "$cpuw" "$ddr" "$fsr" \
			"$(ratio "$fsr" "$ddr")" "$cpur"
		dw+=("$ddw") fw+=("$fsw") wr+=("$(ratio "$fsw" "$ddw")") wc+=("$cpuw")
		dr+=("$ddr") fr+=("$fsr") rr+=("$(ratio "$fsr" "$ddr")") rc+=("$cpur")
	done
	mapfile -t med < <(medians dw fw wr wc dr fr rr rc)
	line=$(printf '%-4s %9s MB/s %7s MB/s %12s %10s %7s MB/s %7s MB/s %12s %10s' median "${med[@]}")
	echo "$line"
	summary+=("$storage ($fstype): $line")
	rm -rf "$dir"
done

print_summary "medians ($mib MiB, $runs runs; cpu-s = daemon user+sys for the whole mount; ratio = fs / dd O_DIRECT)" \
	"every read-back matched the source (sha256 $src_sum)"
