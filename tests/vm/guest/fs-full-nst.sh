#!/bin/sh
# fs-full-nst.sh, fs-full-tapedma.sh - the filesystem fills the tape, on the
# st backend (/dev/nst0) or the tapedma backend (/dev/tapedma0), whichever
# this script is called as (fs-full-tapedma.sh is a symlink to it).
#
# tgt's drive reports no capacity and has no early warning: the first write
# past the end fails with ENOSPC, so the filesystem learns it is full only
# there.  What must hold even so:
#   - copying distinct files in ends with ENOSPC (not EIO, not a hang);
#   - fusetape -u still puts the index on tape (exit 0);
#   - after a new mount, every file whose copy succeeded (cp exit 0) is
#     there byte for byte, and the file being copied when the tape filled
#     holds a prefix of its data or is gone - never other bytes;
#   - the full volume mounts and unmounts again.
# The tape is FUSETAPE_TAPE_MB (64 by default) large; files are 3-4 MiB.
. "$(dirname "$0")/lib/guest.sh"
pick_device
MB=${FUSETAPE_TAPE_MB:-64}
need_bins mkfs.fusetape fusetape
start_syslog

start=$(now)
mkdir -p mnt src
head -c 4194304 /dev/urandom >blob
do_mkfs -q
do_mount "mount $DEV"
df -k mnt 2>&1 | diag
# statfs: what is free cannot exceed the size (df's "used" is the difference)
set -- $(stat -f -c '%b %f %a' mnt)
if [ "$1" -ge "$2" ] && [ "$2" -ge "$3" ] && [ "$2" -gt 0 ]; then
	check 0 "statfs: blocks $1 >= free $2 >= available $3 > 0"
else
	check 1 "statfs: blocks $1 >= free $2 >= available $3 > 0"
fi

# Distinct files (the blob rotated, so a misplaced extent cannot compare
# equal), until a copy fails; twice the tape's size at most.
i=0 written=0 last= copy_rc=0
t0=$(now)
while [ $written -lt $((2 * MB * 1048576)) ]; do
	i=$((i + 1))
	size=$((3 * 1048576 + i * 40961))
	k=$((i * 123457 % 4194304))
	{ tail -c +$((k + 1)) blob; head -c $k blob; } | head -c $size >src/f$i
	cp src/f$i mnt/f$i 2>cp.err
	copy_rc=$?
	if [ $copy_rc -ne 0 ]; then
		last=f$i
		break
	fi
	written=$((written + size))
done
note "copied $((i - 1)) files ($written bytes) in $(secs_since "$t0") s; f$i: cp exit $copy_rc"
diag cp.err
[ -n "$last" ] && grep -q 'No space left on device' cp.err
check $? "copying in ends with ENOSPC (after $((written >> 20)) MiB on a $MB MiB tape)"
[ $written -ge $((MB * 1048576 / 2)) ]
check $? "at least half the tape took data before that"
df -k mnt 2>&1 | diag
# the file that did not fit is removed, as an application would
rm -f mnt/"$last" 2>rm.err
check $? "rm of the file that did not fit"
diag rm.err

do_unmount "fusetape -u on a full tape (the index goes on tape)"
do_mount "mount the full volume again"

j=1
while [ $j -lt $i ]; do
	echo f$j
	j=$((j + 1))
done >copied.list
cmp_list src <copied.list
check $? "all $((i - 1)) copied files byte for byte"
if [ -e mnt/"$last" ]; then
	sz=$(stat -c %s mnt/"$last")
	note "$last is there with $sz bytes after rm"
	head -c "$sz" src/"$last" | cmp - mnt/"$last" >/dev/null
	check $? "$last, removed, is back only as a prefix of its data"
else
	check 0 "$last, removed after ENOSPC, stays removed"
fi
ls mnt | grep -v '^f[0-9]*$' | sed 's/^/unexpected: /' >extra.out
[ ! -s extra.out ]
check $? "nothing else appeared (no lost+found)"
diag extra.out
do_unmount "unmount again"
note "total $(secs_since "$start") s"
finish
