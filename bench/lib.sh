# bench/lib.sh - what the fusetape benchmarks share (sourced; needs $bin,
# $storages and a die function).  A scratch directory $work on tmpfs with
# the mount point $mnt; the daemon runs in the foreground under bash's
# "times" so its CPU use is known when it exits; everything is unmounted
# and removed on exit.  Besides the timing and statistics helpers, the
# steps fs-throughput.sh and small-files.sh both take: bench_check,
# storage_dir, new_volume, medians and print_summary.
work=$(mktemp -d /dev/shm/fusetape-bench.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
daemon_pid=
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	if [ -n "$daemon_pid" ]; then
		wait "$daemon_pid" 2>/dev/null || true
	fi
	for s in $storages; do rm -rf "$s/fusetape-bench.$$"; done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# mbps BYTES SECONDS
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Drop the page cache, then touch BENCH_WARM_MIB (default 4096) MiB of
# memory and free it again.  On a virtual machine whose memory the host
# backs lazily, the first touch of a guest page the guest never used costs
# a fault in the hypervisor; a run that leaves little in the page cache
# (O_DIRECT writes) then hands the next reader such cold pages, and the
# reader pays for them (seen as a CRC pass at a third of its speed).
# Warming the same amount before every measurement gives every side the
# same memory; a machine without lazily backed memory is unaffected.
drop_caches() {
	sync
	if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		caches_note="page cache could not be dropped here"
		return 0
	fi
	if [ "${BENCH_WARM_MIB:-4096}" -gt 0 ]; then
		head -c "${BENCH_WARM_MIB:-4096}M" /dev/zero >"$work/warm" 2>/dev/null || true
		rm -f "$work/warm"
	fi
	return 0
}
caches_note=

# Start the daemon in the foreground (in the background of this shell) with
# bash's "times" recording its CPU use when it exits.
# $mount_opts, if set, is passed to fusetape as -o.
mount_volume() {
	local img=$1 cpu=$2
	# shellcheck disable=SC2016
	bash -c '"$@"; rc=$?; times >&3; exit $rc' fusetape-bench \
		"$bin/fusetape" -f ${mount_opts:+-o "$mount_opts"} "$img" "$mnt" 3>"$cpu" >"$work/daemon.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 200); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$work/daemon.log" >&2
	die "fusetape did not mount $img"
}
# Unmount and wait for the daemon to finish writing the index and exit.
unmount_volume() {
	umount "$mnt" || die "umount $mnt failed"
	wait "$daemon_pid" || { cat "$work/daemon.log" >&2; die "fusetape exited with an error"; }
	daemon_pid=
}
# CPU seconds (user + sys) of the children line of bash's "times" output.
cpu_seconds() {
	sed -n 2p "$1" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		printf "%.2f", t }'
}

# seconds between two now() stamps
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# bench_check PROG...: the optimised binaries in $bin are built and we are
# root (FUSE mounts, drop_caches), or die saying what is missing.
bench_check() {
	local p
	for p in "$@"; do
		[ -x "$bin/$p" ] || die "$bin/$p missing: run 'make VARIANT=rel user' first"
	done
	[ "$(id -u)" -eq 0 ] || die "needs root (FUSE mounts, drop_caches)"
}
# storage_dir STORAGE: this run's directory $dir on STORAGE (removed on
# exit) and the image path $img in it; fails, saying so, when STORAGE is
# not a directory (the caller goes on with the next one).
storage_dir() {
	[ -d "$1" ] || { echo "skipping $1: not a directory"; return 1; }
	dir=$1/fusetape-bench.$$
	mkdir -p "$dir"
	img=$dir/tape.img
}
# new_volume IMG SIZE: a fresh image of SIZE bytes, formatted.
new_volume() {
	rm -f "$1"
	"$bin/mkfs.fusetape" -q --image-size "$2" -n bench "$1"
}
# mbps_between BYTES T0 T1: MB/s for BYTES moved between two now() stamps
mbps_between() { mbps "$1" "$(awk -v a="$2" -v b="$3" 'BEGIN { print b - a }')"; }
# medians ARRAY...: the median of each named bash array, one a line
medians() {
	local name
	for name in "$@"; do
		local -n values=$name
		echo "${values[*]}" | median
		unset -n values
	done
}
# print_summary HEADING LAST: the median lines of every storage (the array
# summary) under "== HEADING", the cache note if any, then the line LAST.
print_summary() {
	local s
	echo
	echo "== $1"
	for s in "${summary[@]}"; do echo "$s"; done
	[ -z "$caches_note" ] || echo "note: $caches_note"
	echo "$2"
}
