#!/bin/sh
# fs-stream.sh - guest benchmark (issue 5): the filesystem writing one big
# file through /dev/tapedma0 versus through /dev/nst0, the same drive.
#
# Per run and device (runs interleaved: nst, tapedma, tapedma_sync, nst,
# ...; tapedma_sync is tapedma with the backend's write-behind turned off,
# FUSETAPE_TAPEDMA_QDEPTH=0):
#   mkfs.fusetape --single-partition -f (tgt's drive cannot partition)
#   -> fusetape DEVICE mnt -> timed: cp of a 256 MiB file from tmpfs, then
#   fusetape -u (it returns when the index is on tape) -> mount -> timed:
#   dd bs=1M of the same file under another name, fusetape -u -> fusetape
#   -o ro -> timed: dd bs=1M of the first file to /dev/null (from the tape:
#   the unmount dropped the page cache) -> untimed: cmp of both files with
#   the source -> fusetape -u.  The volume has the default record size
#   (512 KiB).  busybox cp writes by sendfile(2), in small FUSE requests;
#   dd bs=1M in requests as large as FUSE takes: the daemon's cost per
#   request is what separates the two.
# Prints MB/s (10^6 bytes/s) per run with the share of the guest's CPUs
# that was busy and the daemon's CPU seconds for the write (until the
# data was queued, before the unmount), the medians, the ratios
# tapedma/nst, and tapedma.ko's counters (bytes_zero_copy, bytes_copied) over the runs, and the daemon's
# (user.fusetape.stats on the mount root, read with getfattr before each
# unmount: data path, bytes landed, direct and copied, records queued, and
# the seconds the daemon was blocked on the drive).  From nst's blocked
# seconds it prints the bound on what any device can gain over nst by
# hiding the drive's time: cp seconds / (cp seconds - blocked seconds).
# TAP points: each run's files came back identical, the module copied no
# byte, the daemon copied no written byte on tapedma0.  Size: 256
# MiB, or FUSETAPE_TAPE_MB / 3 on a tape smaller than 700 MiB (the tape
# holds two copies).  Run by bench/vm-tape.sh, never by make check.

# check, tap_end, now, is_mounted and finish (which unmounts what is left)
# come from the guest scripts' library, which the rig copies next to us
. "$(dirname "$0")/lib/guest.sh"
RUNS=${FUSETAPE_BENCH_RUNS:-3}
STATS=/sys/class/tapedma/tapedma0/stats

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

mb=256
if [ -n "${FUSETAPE_TAPE_MB:-}" ] && [ "$FUSETAPE_TAPE_MB" -lt 700 ]; then
	mb=$((FUSETAPE_TAPE_MB / 3))
fi
bytes=$((mb * 1048576))
devs=/dev/nst0
if [ -c /dev/tapedma0 ]; then
	# tapedma0_sync: the same daemon and device with the backend's
	# write-behind off (FUSETAPE_TAPEDMA_QDEPTH=0): what queueing gains
	devs="/dev/nst0 /dev/tapedma0 sync:/dev/tapedma0"
else
	echo "no /dev/tapedma0 (tapedma.ko not loaded): nst only"
fi

mkdir -p mnt
t0=$(now)
# /dev/urandom is slow under TCG: 1 MiB of it, repeated (tape drives here
# do not compress, so repeated data moves like any other)
head -c 1048576 /dev/urandom >block.bin
i=0
while [ $i -lt $mb ]; do
	cat block.bin
	i=$((i + 1))
done >src.bin
rm -f block.bin
echo "$mb MiB file, $RUNS runs per device, tape ${FUSETAPE_TAPE_MB:-?} MiB, source made in $(since "$t0") s"

# step TAG WHAT COMMAND...: run it, its output prefixed on failure
step() {
	tag=$1 what=$2
	shift 2
	if ! "$@" >step.out 2>&1; then
		sed "s/^/$tag: $what: /" step.out
		echo "$tag: $what failed"
		return 1
	fi
}
mount_dev() {	# mount_dev TAG DEV [OPTIONS...]
	t=$1 dv=$2
	shift 2
	step "$t" "mount" timeout 120 fusetape "$dv" mnt "$@"
}
unmount_dev() {	# unmount_dev TAG
	step "$1" "fusetape -u" timeout 300 fusetape -u mnt
}

# dcpu: CPU seconds (user + system) of the mounted daemon so far
dcpu() {
	pid=$(pidof fusetape 2>/dev/null | cut -d' ' -f1)
	[ -n "$pid" ] || { echo 0; return; }
	awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$pid/stat" 2>/dev/null || echo 0
}
dcpu_since() { awk -v a="$1" -v b="$(dcpu)" 'BEGIN { printf "%.2f", b - a }'; }

# dstats TAG D: the daemon's counters (user.fusetape.stats on the mount
# root) after a write, before the unmount; adds "write copied" to dcp_D
dstats() {
	if ! getfattr --only-values -n user.fusetape.stats mnt >dstats.out 2>/dev/null; then
		echo "$1: no user.fusetape.stats on the mount"
		eval "dcp_$2=?"
		return 0
	fi
	echo "$1: daemon: $(grep -E '^(write path|write bytes|write landed|write direct|write copied|records queued|max in flight|requests|landing refused|tape wait seconds):' dstats.out |
		sed 's/: /=/' | tr '\n' ' ')"
	# seconds the daemon was blocked on the drive (empty: not reported)
	tw=$(sed -n 's/^tape wait seconds: *//p' dstats.out)
	wc=$(sed -n 's/^write copied: *//p' dstats.out)
	eval "prev=\${dcp_$2:-0}"
	case $wc in
	""|*[!0-9]*) eval "dcp_$2=?"; return 0 ;;	# missing once: unknown
	esac
	case $prev in
	*[!0-9]*) return 0 ;;	# unknown stays unknown
	esac
	eval "dcp_$2=$((prev + wc))"
}

# run DEV RUN: one measured round; sets cp_s dd_s rd_s (seconds) and *_busy
run() {
	dev=$1 tag="run $2 $d"
	step "$tag" mkfs mkfs.fusetape --single-partition -f -q "$dev" || return 1
	mount_dev "$tag" "$dev" || return 1
	t0=$(now) c0=$(ticks) p0=$(dcpu)
	step "$tag" "cp" cp src.bin mnt/cp.bin || return 1
	cp_dcpu=$(dcpu_since "$p0")
	tw=
	dstats "$tag cp" "$d"
	cp_tw=${tw:-?}
	unmount_dev "$tag" || return 1
	cp_s=$(since "$t0") cp_busy=$(busy_since "$c0")
	mount_dev "$tag" "$dev" || return 1
	t0=$(now) c0=$(ticks) p0=$(dcpu)
	step "$tag" "dd" dd if=src.bin of=mnt/dd.bin bs=1M || return 1
	dd_dcpu=$(dcpu_since "$p0")
	dstats "$tag dd" "$d"
	unmount_dev "$tag" || return 1
	dd_s=$(since "$t0") dd_busy=$(busy_since "$c0")
	mount_dev "$tag" "$dev" -o ro || return 1
	t0=$(now) c0=$(ticks)
	step "$tag" "read" dd if=mnt/cp.bin of=/dev/null bs=1M || return 1
	rd_s=$(since "$t0") rd_busy=$(busy_since "$c0")
	step "$tag" "cmp of the cp copy" cmp src.bin mnt/cp.bin || return 1
	step "$tag" "cmp of the dd copy" cmp src.bin mnt/dd.bin || return 1
	unmount_dev "$tag" || return 1
	return 0
}

zc0=$(stat_of bytes_zero_copy) cp0=$(stat_of bytes_copied)
r=1
while [ $r -le $RUNS ]; do
	for dev in $devs; do
		unset FUSETAPE_TAPEDMA_QDEPTH
		case $dev in
		sync:*)
			dev=${dev#sync:}
			d=${dev#/dev/}_sync
			export FUSETAPE_TAPEDMA_QDEPTH=0 ;;
		*) d=${dev#/dev/} ;;
		esac
		[ $d = nst0 ] && d=nst
		before=$(stat_of bytes_moved)
		run "$dev" $r
		rc=$?
		unset FUSETAPE_TAPEDMA_QDEPTH
		check $rc "run $r $d: $mb MiB written by cp and by dd, read back identical after remounts"
		if [ $d = nst ] && [ "$(stat_of bytes_moved)" != "$before" ]; then
			echo "run $r nst: tapedma's bytes_moved changed during the nst run"
		fi
		if [ $rc -ne 0 ]; then
			is_mounted && umount -l mnt
			continue
		fi
		c=$(mbps $bytes "$cp_s") w=$(mbps $bytes "$dd_s") rd=$(mbps $bytes "$rd_s")
		echo "run $r $d: write cp $c MB/s ($cp_s s, cpus ${cp_busy}% busy, daemon ${cp_dcpu} CPU-s, ${cp_tw} s blocked on the drive), dd bs=1M $w MB/s ($dd_s s, ${dd_busy}%, daemon ${dd_dcpu} CPU-s); read dd bs=1M $rd MB/s ($rd_s s, ${rd_busy}%)"
		eval "c_$d=\"\${c_$d:-} $c\" w_$d=\"\${w_$d:-} $w\" r_$d=\"\${r_$d:-} $rd\""
		case $cp_tw in
		*[!0-9.]*|"") ;;
		*) eval "tw_$d=\"\${tw_$d:-} $cp_tw\" ts_$d=\"\${ts_$d:-} $cp_s\"" ;;
		esac
	done
	r=$((r + 1))
done
zc1=$(stat_of bytes_zero_copy) cp1=$(stat_of bytes_copied)

echo "median of $RUNS runs, $mb MiB file (MB/s = 10^6 bytes/s; writes timed until fusetape -u returned):"
for d in nst tapedma0 tapedma0_sync; do
	[ $d = nst ] || [ -c /dev/tapedma0 ] || continue
	eval "mc_$d=\$(echo \"\${c_$d:-}\" | median) mw_$d=\$(echo \"\${w_$d:-}\" | median) mr_$d=\$(echo \"\${r_$d:-}\" | median)"
	eval "echo \"RESULT fs $d: write cp \${mc_$d:-?} MB/s, write dd bs=1M \${mw_$d:-?} MB/s, read \${mr_$d:-?} MB/s\""
done
if [ -c /dev/tapedma0 ]; then
	if [ -n "${mc_nst:-}" ] && [ -n "${mc_tapedma0:-}" ]; then
		echo "RESULT fs ratio tapedma0/nst: write cp $(ratio "$mc_tapedma0" "$mc_nst"), write dd $(ratio "$mw_tapedma0" "$mw_nst"), read $(ratio "$mr_tapedma0" "$mr_nst")"
		echo "RESULT fs ratio tapedma0/tapedma0_sync (write-behind on/off): write cp $(ratio "$mc_tapedma0" "${mc_tapedma0_sync:-0}"), write dd $(ratio "$mw_tapedma0" "${mw_tapedma0_sync:-0}")"
	fi
	# what write-behind can gain at most: nst's daemon waits for every
	# record; a device that hid all of that wait would save exactly it
	if [ -n "${tw_nst:-}" ]; then
		mtw=$(echo "$tw_nst" | median) mts=$(echo "$ts_nst" | median)
		echo "RESULT fs bound: on nst the daemon was blocked on the drive $mtw s of a $mts s cp (medians); hiding all of it gives at most $(awk -v t="$mts" -v w="$mtw" 'BEGIN { printf "%.2f", (t > w ? t / (t - w) : 0) }') x nst"
	fi
	echo "RESULT fs counters tapedma0 ($RUNS runs): bytes_zero_copy +$((zc1 - zc0)) bytes_copied +$((cp1 - cp0))"
	echo "RESULT fs daemon write copied ($RUNS runs, cp and dd): nst ${dcp_nst:-?} bytes, tapedma0 ${dcp_tapedma0:-?} bytes"
	[ "${dcp_tapedma0:-?}" = 0 ]
	check $? "the daemon copied no written byte on tapedma0 (user.fusetape.stats: ${dcp_tapedma0:-?})"
	[ $((cp1 - cp0)) -eq 0 ]
	check $? "tapedma.ko copied no byte during the filesystem runs"
	[ $((zc1 - zc0)) -ge $((bytes * 3)) ]
	check $? "bytes_zero_copy grew by at least the two copies written and one read ($((zc1 - zc0)) bytes)"
fi
finish
