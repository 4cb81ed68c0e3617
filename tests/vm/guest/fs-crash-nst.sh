#!/bin/sh
# fs-crash-nst.sh, fs-crash-tapedma.sh - kill -9 of the daemon in the middle
# of a big write, on the st backend (/dev/nst0) or the tapedma backend
# (/dev/tapedma0), whichever this script is called as (fs-crash-tapedma.sh
# is a symlink to it).
#
# A real drive behind a real kernel: when the daemon dies, the kernel closes
# its handle, and st appends a filemark after the last record it wrote
# (tapedma writes none).  The next mount must recover anyway:
#   - files made durable before (dd conv=fsync, cp + sync FILE) are there
#     byte for byte;
#   - the volume takes new data, unmounts with fusetape -u, mounts again
#     with everything there;
#   - fsck.fusetape then finds the volume consistent.
. "$(dirname "$0")/lib/guest.sh"
daemon=
writer=
pick_device
need_bins mkfs.fusetape fusetape fsck.fusetape
on_finish() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null
	unmount_left
	[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null
}
cmp_files() {	# cmp_files FILE...: each src/FILE against mnt/FILE
	printf '%s\n' "$@" >files.list
	cmp_list src <files.list
}

start=$(now)
mkdir -p mnt src
head -c 4194304 /dev/urandom >src/d
head -c 3000001 /dev/urandom >src/e
echo after >src/after-crash

do_mkfs -q

# in the foreground (in the background of this shell): its pid is $!
fusetape -f "$DEV" mnt -o sync_interval=0 >daemon.log 2>&1 &
daemon=$!
i=0
while ! is_mounted && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is_mounted
check $? "fusetape -f mounts $DEV"
is_mounted || { diag daemon.log; finish; }

dd if=src/d of=mnt/d bs=262144 conv=fsync 2>dd.err
rc=$?
[ $rc -eq 0 ] || diag dd.err
check $rc "write a file and fsync it"
cp src/e mnt/e && sync mnt/e
check $? "cp another and sync FILE (fsync; sync -f does not reach FUSE)"

# a big write, killed in the middle
dd if=/dev/urandom of=mnt/big bs=262144 count=200 2>/dev/null &
writer=$!
i=0 sz=0
while [ "$sz" -lt 8388608 ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
	sz=$(stat -c %s mnt/big 2>/dev/null) || sz=0
done
still=no
kill -0 "$writer" 2>/dev/null && still=yes
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
note "killed the daemon with $sz bytes of big written"
daemon=
[ $still = yes ]
check $? "the daemon was killed while the writer was still writing"
wait "$writer" 2>/dev/null
writer=
umount -l mnt 2>/dev/null
is_mounted && { check 1 "the dead mount goes away with umount -l"; finish; }
diag daemon.log

t0=$(now)
do_mount "mount after kill -9"
note "the recovering mount took $(secs_since "$t0") s"
ls -la mnt | diag
cmp_files d e
check $? "the fsync'ed and the synced file are intact"
cp src/after-crash mnt/after-crash
check $? "the recovered volume takes new data"
do_unmount "fusetape -u after the recovery"
do_mount "mount again"
cmp_files d e after-crash
check $? "all three files are there, byte for byte"
do_unmount "fusetape -u"

fsck.fusetape "$DEV" >fsck.out 2>&1
rc=$?
diag fsck.out
check $rc "fsck.fusetape finds the volume consistent (exit $rc)"
note "total $(secs_since "$start") s"
finish
