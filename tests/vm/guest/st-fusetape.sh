#!/bin/sh
# st-fusetape.sh - the whole stack on the st backend: mkfs.fusetape makes a
# single-partition volume on /dev/nst0 (tgt's drive cannot partition),
# fusetape mounts it through FUSE, files copied in come back identical after
# an unmount and a fresh mount.  Also proves that the rig's guest can run
# the project's dynamically linked binaries and FUSE.
T=${FUSETAPE_TAPE:-/dev/nst0}
. "$(dirname "$0")/lib/guest.sh"
need_bins mkfs.fusetape fusetape

mkdir -p mnt
head -c 3000000 /dev/urandom >big
head -c 1000 /dev/urandom >small
: >empty

logged mkfs "$B/mkfs.fusetape" -q -f --single-partition -n vmvol -s VM0001 "$T"
rc=$?
# Known gaps elsewhere, reported as such until they are closed:
if [ $rc -ne 0 ] && grep -q 'too small: 0 bytes' err; then
	# st cannot tell the capacity (tape_medium_info says 0 = unknown)
	echo "ok 1 - mkfs.fusetape on st # SKIP mkfs.fusetape refuses a medium of unknown capacity (0)"
	exit 0
fi
if [ $rc -ne 0 ] && grep -q 'single-partition LTFS volumes are not implemented' err; then
	echo "ok 1 - mkfs.fusetape on st # SKIP single-partition volumes (all tgt can hold) are not implemented"
	exit 0
fi
check $rc "mkfs.fusetape --single-partition on $T"
[ $rc -eq 0 ] || { tap_end; exit 1; }

logged fusetape "$B/fusetape" "$T" mnt
rc=$?
check $rc "mount"
[ $rc -eq 0 ] || { tap_end; exit 1; }
is_mounted
check $? "the mount is in /proc/mounts"

mkdir mnt/dir 2>/dev/null
check $? "mkdir"
cp big mnt/dir/big && cp small mnt/small && cp empty mnt/empty
check $? "copy three files in"
cmp -s big mnt/dir/big
check $? "big file reads back while mounted"

logged "fusetape -u" "$B/fusetape" -u mnt
check $? "unmount (writes the index)"
is_mounted
check $((! $?)) "the mount is gone"

logged fusetape "$B/fusetape" -o ro "$T" mnt
check $? "mount again, read-only"
cmp -s big mnt/dir/big
check $? "3 MB file survived the remount"
cmp -s small mnt/small
check $? "1000-byte file survived"
[ -f mnt/empty ] && [ ! -s mnt/empty ]
check $? "empty file survived"
cp small mnt/other 2>/dev/null
check $((! $?)) "read-only mount refuses a new file"
logged "fusetape -u" "$B/fusetape" -u mnt
check $? "unmount"

tap_end
