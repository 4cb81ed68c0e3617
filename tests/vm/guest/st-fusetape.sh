#!/bin/sh
# st-fusetape.sh - the whole stack on the st backend: mkfs.fusetape makes a
# single-partition volume on /dev/nst0 (tgt's drive cannot partition),
# fusetape mounts it through FUSE, files copied in come back identical after
# an unmount and a fresh mount.  Also proves that the rig's guest can run
# the project's dynamically linked binaries and FUSE.
T=${FUSETAPE_TAPE:-/dev/nst0}
B=${FUSETAPE_BIN:-/usr/local/bin}
n=0
failed=0
check() {	# check STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
for p in mkfs.fusetape fusetape; do
	if [ ! -x "$B/$p" ]; then
		echo "1..0 # SKIP $p not built (run make)"
		exit 0
	fi
done

mkdir -p mnt
head -c 3000000 /dev/urandom >big
head -c 1000 /dev/urandom >small
: >empty

"$B/mkfs.fusetape" -q -f --single-partition -n vmvol -s VM0001 "$T" 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# mkfs: /' err
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
[ $rc -eq 0 ] || { echo "1..$n"; exit 1; }

"$B/fusetape" "$T" mnt 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# fusetape: /' err
check $rc "mount"
[ $rc -eq 0 ] || { echo "1..$n"; exit 1; }
grep -q " $PWD/mnt fuse" /proc/mounts
check $? "the mount is in /proc/mounts"

mkdir mnt/dir 2>/dev/null
check $? "mkdir"
cp big mnt/dir/big && cp small mnt/small && cp empty mnt/empty
check $? "copy three files in"
cmp -s big mnt/dir/big
check $? "big file reads back while mounted"

"$B/fusetape" -u mnt 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# fusetape -u: /' err
check $rc "unmount (writes the index)"
grep -q " $PWD/mnt fuse" /proc/mounts
check $((! $?)) "the mount is gone"

"$B/fusetape" -o ro "$T" mnt 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# fusetape: /' err
check $rc "mount again, read-only"
cmp -s big mnt/dir/big
check $? "3 MB file survived the remount"
cmp -s small mnt/small
check $? "1000-byte file survived"
[ -f mnt/empty ] && [ ! -s mnt/empty ]
check $? "empty file survived"
cp small mnt/other 2>/dev/null
check $((! $?)) "read-only mount refuses a new file"
"$B/fusetape" -u mnt 2>err
check $? "unmount"

echo "1..$n"
[ $failed -eq 0 ]
