#!/bin/sh
# fs-stream.sh - guest benchmark (issue 5): the filesystem writing one big
# file through /dev/tapedma0 versus through /dev/nst0, the same drive.
#
# Per run and device (runs interleaved: nst, tapedma, nst, ...):
#   mkfs.fusetape --single-partition -f (tgt's drive cannot partition)
#   -> fusetape DEVICE mnt -> timed: cp of a 256 MiB file of random data
#   from tmpfs, then fusetape -u (it returns when the index is on tape)
#   -> fusetape -o ro DEVICE mnt -> timed: cmp of the file on tape with the
#   source (reads it back from the tape: the unmount dropped the page cache)
#   -> fusetape -u.  The volume has the default record size (512 KiB).
# Prints MB/s (10^6 bytes/s) per run with the share of the guest's CPUs
# that was busy, the medians, the ratio tapedma/nst, and tapedma.ko's
# counters (bytes_zero_copy, bytes_copied) over the tapedma runs.  TAP
# points: each run's file came back identical, the module copied no byte.
# Size: 256 MiB, or FUSETAPE_TAPE_MB / 3 on a tape smaller than 600 MiB.
# Run by bench/vm-tape.sh, never by make check.

B=${FUSETAPE_BIN:-/usr/local/bin}
PATH=$B:$PATH
RUNS=3
STATS=/sys/class/tapedma/tapedma0/stats
n=0
failed=0
mounted=0

check() {	# check STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
stat_of() { cat "$STATS/$1" 2>/dev/null || echo 0; }
# busy and total jiffies of all CPUs (busy: neither idle nor iowait)
ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
busy_since() {	# busy_since "BUSY TOTAL": percent of the guest's CPUs busy since
	set -- $1 $(ticks)
	awk -v b0="$1" -v t0="$2" -v b1="$3" -v t1="$4" 'BEGIN { printf "%.0f", (t1 > t0 ? 100 * (b1 - b0) / (t1 - t0) : 0) }'
}

finish() {
	if [ $mounted = 1 ]; then
		timeout 120 fusetape -u mnt >/dev/null 2>&1 || umount -l mnt 2>/dev/null
	fi
	echo "1..$n"
	[ $failed -eq 0 ]
	exit
}

mb=256
if [ -n "${FUSETAPE_TAPE_MB:-}" ] && [ "$FUSETAPE_TAPE_MB" -lt 600 ]; then
	mb=$((FUSETAPE_TAPE_MB / 3))
fi
bytes=$((mb * 1048576))
devs=/dev/nst0
if [ -c /dev/tapedma0 ]; then
	devs="/dev/nst0 /dev/tapedma0"
else
	echo "no /dev/tapedma0 (tapedma.ko not loaded): nst only"
fi

mkdir -p mnt
t0=$(now)
head -c $bytes /dev/urandom >src.bin
echo "$mb MiB file, $RUNS runs per device, tape ${FUSETAPE_TAPE_MB:-?} MiB, source made in $(since "$t0") s"

# run DEV RUN: one measured round trip; sets w_s and r_s (seconds)
run() {
	dev=$1 tag="run $2 ${1#/dev/}"
	w_s= r_s=
	if ! mkfs.fusetape --single-partition -f -q "$dev" >mkfs.out 2>&1; then
		sed "s/^/$tag: mkfs: /" mkfs.out
		return 1
	fi
	if ! timeout 120 fusetape "$dev" mnt >mount.out 2>&1; then
		sed "s/^/$tag: mount: /" mount.out
		return 1
	fi
	mounted=1
	t0=$(now) c0=$(ticks)
	if ! cp src.bin mnt/file.bin; then
		echo "$tag: cp failed"
		return 1
	fi
	if ! timeout 300 fusetape -u mnt >umount.out 2>&1; then
		sed "s/^/$tag: fusetape -u: /" umount.out
		return 1
	fi
	w_s=$(since "$t0") w_busy=$(busy_since "$c0")
	mounted=0
	if ! timeout 120 fusetape -o ro "$dev" mnt >mount.out 2>&1; then
		sed "s/^/$tag: mount again: /" mount.out
		return 1
	fi
	mounted=1
	t0=$(now) c0=$(ticks)
	if ! cmp src.bin mnt/file.bin >cmp.out 2>&1; then
		sed "s/^/$tag: /" cmp.out
		return 1
	fi
	r_s=$(since "$t0") r_busy=$(busy_since "$c0")
	if ! timeout 120 fusetape -u mnt >umount.out 2>&1; then
		sed "s/^/$tag: fusetape -u: /" umount.out
		return 1
	fi
	mounted=0
	return 0
}

w_nst= r_nst= w_tapedma0= r_tapedma0=
zc0=$(stat_of bytes_zero_copy) cp0=$(stat_of bytes_copied)
r=1
while [ $r -le $RUNS ]; do
	for dev in $devs; do
		d=${dev#/dev/}
		[ $d = nst0 ] && d=nst
		if [ $d = nst ]; then
			before=$(stat_of bytes_moved)
		fi
		run "$dev" $r
		rc=$?
		check $rc "run $r $d: $mb MiB file written, unmounted, mounted again and read back identical"
		if [ $d = nst ] && [ "$(stat_of bytes_moved)" != "$before" ]; then
			echo "run $r nst: tapedma's bytes_moved changed during the nst run"
		fi
		[ $rc -eq 0 ] || { [ $mounted = 1 ] && umount -l mnt; mounted=0; continue; }
		w=$(mbps $bytes "$w_s") rd=$(mbps $bytes "$r_s")
		echo "run $r $d: write (cp + fusetape -u) $w MB/s ($w_s s, cpus ${w_busy}% busy), read (cmp) $rd MB/s ($r_s s, cpus ${r_busy}% busy)"
		eval "w_$d=\"\$w_$d $w\" r_$d=\"\$r_$d $rd\""
	done
	r=$((r + 1))
done
zc1=$(stat_of bytes_zero_copy) cp1=$(stat_of bytes_copied)

echo "median of $RUNS runs, $mb MiB file (MB/s = 10^6 bytes/s):"
mw_nst=$(echo "$w_nst" | median) mr_nst=$(echo "$r_nst" | median)
echo "RESULT fs nst      write ${mw_nst:-?} MB/s  read ${mr_nst:-?} MB/s"
if [ -c /dev/tapedma0 ]; then
	mw_t=$(echo "$w_tapedma0" | median) mr_t=$(echo "$r_tapedma0" | median)
	echo "RESULT fs tapedma0 write ${mw_t:-?} MB/s  read ${mr_t:-?} MB/s"
	if [ -n "$mw_nst" ] && [ -n "$mw_t" ]; then
		echo "RESULT fs ratio tapedma0/nst: write $(ratio "$mw_t" "$mw_nst") read $(ratio "$mr_t" "$mr_nst")"
	fi
	echo "RESULT fs counters tapedma0 ($RUNS runs): bytes_zero_copy +$((zc1 - zc0)) bytes_copied +$((cp1 - cp0))"
	check $((cp1 - cp0)) "tapedma.ko copied no byte during the filesystem runs"
	[ $((zc1 - zc0)) -ge $((bytes * 2)) ]
	check $? "bytes_zero_copy grew by at least the file written and read once ($((zc1 - zc0)) bytes)"
fi
finish
