#!/bin/bash
# zc-ab.sh - fs-throughput's measurement for two builds of fusetape,
# alternating run by run (A, B, A, B, ...), so that both see the same
# background load on a shared machine; the dd ceiling is measured next to
# each pair.  Per run: dd O_DIRECT write and read of the file on the
# storage, then for each build: cp into a fresh volume timed until the
# daemon has exited after the unmount, and cat back after a fresh mount
# with the page cache dropped (compared with the source, untimed).
# Prints MB/s, ratio to dd, the daemon's CPU seconds per GiB, and medians.
#
# Environment: ZC_A (default build/rel/bin), ZC_B (default build/zc-rel/bin),
# ZC_A_OPTS / ZC_B_OPTS (fusetape -o options for that side, e.g. the same
# build with ZC_A_OPTS=cachedwrites),
# BENCH_SIZE (2G), BENCH_RUNS (3), BENCH_STORAGE (/var/tmp).  Needs root.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
bin_a=${ZC_A:-$root/build/rel/bin}
bin_b=${ZC_B:-$root/build/zc-rel/bin}
size=${BENCH_SIZE:-2G}
runs=${BENCH_RUNS:-3}
storages=${BENCH_STORAGE:-/var/tmp}

die() { echo "zc-ab: $*" >&2; exit 1; }
for b in "$bin_a" "$bin_b"; do
	for p in fusetape mkfs.fusetape; do
		[ -x "$b/$p" ] || die "$b/$p missing"
	done
done
[ "$(id -u)" -eq 0 ] || die "needs root (FUSE mounts, drop_caches)"
bytes=$(numfmt --from=iec "${size%iB}") || die "BENCH_SIZE=$size is not a size"
mib=$(( (bytes + 1048575) / 1048576 ))
bytes=$(( mib * 1048576 ))
bin=$bin_a
. bench/lib.sh

secs() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
per_gib() { awk -v c="$1" -v b="$bytes" 'BEGIN { printf "%.2f", c * 1073741824 / b }'; }

echo "zc-ab: file $mib MiB, $runs run(s); A=$bin_a B=$bin_b"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
src=$work/source.bin
head -c "$bytes" /dev/urandom >"$src"
src_sum=$(sha256sum <"$src" | cut -d' ' -f1)

for storage in $storages; do
	dir=$storage/fusetape-bench.$$
	mkdir -p "$dir"
	img=$dir/tape.img
	img_size=$(( bytes + bytes / 10 + 256 * 1048576 ))
	echo
	echo "== $storage ($(stat -f -c %T "$storage"))"
	printf '%-4s %-3s %9s %9s %6s %9s %9s %9s %6s %9s\n' run bld dd-w fs-w ratio \
		cpu/GiB dd-r fs-r ratio cpu/GiB
	declare -A col=()
	for run in $(seq "$runs"); do
		rm -f "$dir/dd.out"
		drop_caches
		t0=$(now); dd if="$src" of="$dir/dd.out" bs=1M oflag=direct status=none; t1=$(now)
		ddw=$(mbps "$bytes" "$(secs "$t0" "$t1")")
		drop_caches
		t0=$(now); dd if="$dir/dd.out" of=/dev/null bs=1M iflag=direct status=none; t1=$(now)
		ddr=$(mbps "$bytes" "$(secs "$t0" "$t1")")
		rm -f "$dir/dd.out"
		for which in A B; do
			if [ $which = A ]; then
				bin=$bin_a mount_opts=${ZC_A_OPTS:-}
			else
				bin=$bin_b mount_opts=${ZC_B_OPTS:-}
			fi
			rm -f "$img"
			"$bin/mkfs.fusetape" -q --image-size "$img_size" -n bench "$img"
			drop_caches
			mount_volume "$img" "$work/cpu-write"
			t0=$(now); cp "$src" "$mnt/file.bin"; unmount_volume; t1=$(now)
			fsw=$(mbps "$bytes" "$(secs "$t0" "$t1")")
			cpuw=$(per_gib "$(cpu_seconds "$work/cpu-write")")
			drop_caches
			mount_volume "$img" "$work/cpu-read"
			t0=$(now); cat "$mnt/file.bin" >/dev/null; t1=$(now)
			fsr=$(mbps "$bytes" "$(secs "$t0" "$t1")")
			got=$(sha256sum <"$mnt/file.bin" | cut -d' ' -f1)
			unmount_volume
			cpur=$(per_gib "$(cpu_seconds "$work/cpu-read")")
			[ "$got" = "$src_sum" ] || die "run $run build $which: read-back differs"
			wr=$(ratio "$fsw" "$ddw") rr=$(ratio "$fsr" "$ddr")
			printf '%-4s %-3s %9s %9s %6s %9s %9s %9s %6s %9s\n' "$run" "$which" \
				"$ddw" "$fsw" "$wr" "$cpuw" "$ddr" "$fsr" "$rr" "$cpur"
			col[$which.ddw]+="$ddw " col[$which.fsw]+="$fsw " col[$which.wr]+="$wr "
			col[$which.cw]+="$cpuw " col[$which.ddr]+="$ddr " col[$which.fsr]+="$fsr "
			col[$which.rr]+="$rr " col[$which.cr]+="$cpur "
		done
	done
	for which in A B; do
		printf '%-4s %-3s' median "$which"
		for k in ddw fsw wr cw ddr fsr rr cr; do
			printf ' %9s' "$(echo "${col[$which.$k]}" | median)"
		done
		echo
	done
	unset col
	rm -rf "$dir"
done
echo "MB/s are 10^6 bytes/s; cpu/GiB = daemon user+sys seconds per GiB; ratio = fs / dd O_DIRECT"
echo "every read-back matched the source; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
