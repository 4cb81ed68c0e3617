#!/bin/bash
# fsck.fusetape: exit codes, generation listing, and the repair of a volume
# whose writer was killed with data after its last index.
. "$(dirname "$0")/mkfs-lib.sh"
require_bins mkfs.fusetape fsck.fusetape

img=$T/v.img
expect_rc 16 "no DEVICE" $T/out "$FSCK"
expect_rc 16 "-r with -n" $T/out "$FSCK" -r -n $img
expect_rc 16 "unknown option" $T/out "$FSCK" --bogus $img
expect_rc 8 "DEVICE that does not exist" $T/out "$FSCK" $img
expect_grep "missing DEVICE named" $T/out 'does not exist'
head -c 65536 /dev/urandom >$T/junk
expect_rc 8 "not a tape image" $T/out "$FSCK" $T/junk
if [ -x "$BIN/fusetape-image" ]; then
	"$BIN/fusetape-image" create -s 64M $T/blank.img >/dev/null 2>&1
	expect_rc 8 "a blank tape is an operational error" $T/out "$FSCK" $T/blank.img
	expect_grep "blank tape: not an LTFS volume" $T/out 'is not an LTFS volume: partition 0 label: partition is blank'
fi

expect_rc 0 "mkfs" $T/out "$MKFS" --image-size 128M -n crashvol $img
expect_rc 0 "fsck of a fresh volume" $T/out "$FSCK" $img
expect_rc 0 "fsck -l of a fresh volume" $T/list "$FSCK" -l $img
expect_grep "-l lists generation 1 in the data partition" $T/list '^  generation 1 +b:'
expect_grep "-l lists generation 1 in the index partition" $T/list '^Index partition a:'
expect_rc 0 "fsck -n of a fresh volume" $T/out "$FSCK" -n $img

if [ ! -x "$BIN/fusetape" ] || [ ! -e /dev/fuse ]; then
	skip "crash and repair" "no fusetape daemon or /dev/fuse"
	done_testing
	exit
fi
mnt=$T/mnt
mkdir -p $mnt
pid=
cleanup_hooks+=('[ -n "$pid" ] && kill -9 $pid 2>/dev/null; mountpoint -q $mnt && umount -l $mnt')
start_daemon() {
	"$BIN/fusetape" -f "$@" $img $mnt >$T/daemon.log 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		mountpoint -q $mnt && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	diag <$T/daemon.log
	return 1
}

head -c 3000000 /dev/urandom >$T/a.bin
head -c 8000000 /dev/urandom >$T/b.bin
if ! start_daemon -o sync_interval=0; then
	not_ok "fusetape mounts the volume"
	done_testing
	exit
fi
expect_rc 8 "fsck of a mounted volume is an operational error" $T/out "$FSCK" $img
expect_grep "mounted volume: in use" $T/out 'in use'
expect_rc 1 "mkfs -f of a mounted volume is refused" $T/out "$MKFS" -f $img
expect_grep "mkfs: in use" $T/out 'in use'
cp $T/a.bin $mnt/a.bin
"$BIN/fusetape" -u $mnt >$T/out 2>&1
wait $pid; drc=$?; pid=
check "first session: clean unmount (daemon exit $drc)" test $drc -eq 0
expect_rc 0 "fsck after a clean unmount" $T/out "$FSCK" $img
expect_rc 0 "fsck -c reads all file data after a session" $T/out "$FSCK" -c -v $img
expect_grep "-c read the 3000000 bytes of a.bin" $T/out 'Read 6 records \(3000000 bytes\) of file data, 0 bad'
expect_rc 0 "fsck -l after a session" $T/list "$FSCK" -l $img
gens=$(grep -c '^  generation' $T/list)
check "at least 3 index copies listed ($gens)" test "$gens" -ge 3
expect_grep "generation 2 reachable through the back pointers" $T/list '^  generation 2 +b:'
expect_grep "generation 1 reachable through the back pointers" $T/list '^  generation 1 +b:'

# the crash: data on tape after the last index, then kill -9
if ! start_daemon -o sync_interval=0; then
	not_ok "fusetape mounts the volume again"
	done_testing
	exit
fi
cp $T/b.bin $mnt/b.bin
sleep 1
kill -9 $pid
wait $pid 2>/dev/null; pid=
umount -l $mnt 2>/dev/null || fusermount3 -uz $mnt 2>/dev/null || true
sum_before=$(sha256sum <$img)
expect_rc 4 "fsck after the crash finds the unterminated data partition" $T/out "$FSCK" $img
if ! grep -q 'does not end in an index' $T/out; then
	skip "crash left data after the last index" "the daemon wrote nothing to tape before the kill; $(grep PROBLEM $T/out | head -1)"
else
	ok "the problem is named: data partition does not end in an index"
fi
expect_grep "fsck suggests -r" $T/out 'Run fsck.fusetape -r'
expect_rc 4 "fsck -n after the crash" $T/out "$FSCK" -n $img
check "checking did not change the image" test "$(sha256sum <$img)" = "$sum_before"
expect_rc 1 "fsck -r repairs" $T/out "$FSCK" -r $img
expect_grep "repair wrote an index" $T/out "^Repair: .*recovery index"
expect_grep "repair says where the unindexed data went" $T/out "_ltfs_lostandfound"
expect_rc 0 "fsck after the repair" $T/out "$FSCK" $img
expect_rc 0 "fsck -r on a consistent volume changes nothing" $T/out "$FSCK" -r $img

if start_daemon -o ro; then
	check "a.bin survived with the same bytes" cmp -s $T/a.bin $mnt/a.bin
	lf=$(ls $mnt/_ltfs_lostandfound 2>/dev/null | head -1)
	if [ -n "$lf" ]; then
		lsize=$(stat -c %s "$mnt/_ltfs_lostandfound/$lf")
		check "lost+found $lf holds the first $lsize bytes of the unsynced b.bin" \
			cmp -s -n "$lsize" "$mnt/_ltfs_lostandfound/$lf" $T/b.bin
	else
		not_ok "the repair saved the unindexed data in /_ltfs_lostandfound"
	fi
	"$BIN/fusetape" -u $mnt >/dev/null 2>&1
	wait $pid; pid=
else
	not_ok "the repaired volume mounts"
fi

# the same crash on a single-partition volume
simg=$T/single.img
if "$MKFS" -q --single-partition --image-size 64M $simg >$T/out 2>&1; then
	img_saved=$img img=$simg
	if start_daemon -o sync_interval=0; then
		cp $T/b.bin $mnt/b.bin
		sleep 1
		kill -9 $pid; wait $pid 2>/dev/null; pid=
		umount -l $mnt 2>/dev/null || fusermount3 -uz $mnt 2>/dev/null || true
		expect_rc 4 "single partition: fsck after the crash" $T/out "$FSCK" $simg
		expect_grep "single partition: the problem is named" $T/out 'partition a does not end in an index'
		expect_rc 1 "single partition: fsck -r repairs" $T/out "$FSCK" -r $simg
		expect_rc 0 "single partition: fsck after the repair" $T/out "$FSCK" -c $simg
	else
		not_ok "fusetape mounts a single-partition volume"
	fi
	img=$img_saved
else
	not_ok "mkfs --single-partition"; diag <$T/out
fi

# damage that a recovery mount cannot fix: the VOL1 label of partition b
off=$(LC_ALL=C grep -aob 'VOL1' $img | sed -n 2p | cut -d: -f1)
if [ -n "$off" ]; then
	printf 'XXXX' | dd of=$img bs=1 seek=$((off + 24)) conv=notrunc status=none
	expect_rc 4 "damaged VOL1 of partition b is an uncorrected error" $T/out "$FSCK" $img
	expect_grep "the damaged label is named" $T/out 'PROBLEM: partition 1 label'
	expect_rc 4 "-r does not claim to fix a damaged label" $T/out "$FSCK" -r $img
else
	not_ok "found the VOL1 label of partition b in the image"
fi
done_testing
