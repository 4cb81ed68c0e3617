#!/bin/bash
# demo.sh - what "make demo" runs after building: a virtual tape mounted on
# /mnt/tape.  Creates the image (sparse) if absent, formats it if it is not an
# LTFS volume yet, repairs it if a previous demo was not unmounted, mounts it.
# Environment (set by mkfs/module.mk): DEMO_IMAGE, DEMO_MOUNT, DEMO_SIZE, BIN.
set -eu
img=${DEMO_IMAGE:-/var/tmp/fusetape/demo.img}
mnt=${DEMO_MOUNT:-/mnt/tape}
size=${DEMO_SIZE:-2G}
bin=${BIN:-build/rel/bin}

# absolute paths, so that the commands printed below work from anywhere
bin=$(cd "$bin" && pwd)
case $img in /*) ;; *) img=$PWD/$img ;; esac

say() { printf 'demo: %s\n' "$*"; }
next_steps() {
	cat <<MSG

The virtual tape $img is mounted on $mnt.
Try:
    cp -r /usr/share/doc/bash $mnt/        # write files
    ls -l $mnt; df -h $mnt
    getfattr -n user.ltfs.startblock $mnt/bash/NEWS.gz   # where it is on tape
Unmount safely (returns once the index is on the tape):
    $bin/fusetape -u $mnt
(plain "umount $mnt" returns before the index is written.)
Check the volume afterwards, and mount it again:
    $bin/fsck.fusetape $img
    $bin/fusetape $img $mnt
MSG
}

if ! mountpoint -q "$mnt" 2>/dev/null && grep -q " $mnt fuse" /proc/mounts; then
	say "the fusetape daemon of $mnt is gone (crashed or killed); detaching its mount"
	umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
fi
if mountpoint -q "$mnt"; then
	say "$mnt is already mounted:"
	grep " $mnt " /proc/mounts || true
	next_steps
	exit 0
fi
mkdir -p "$(dirname "$img")" "$mnt"
if [ ! -e "$img" ]; then
	say "creating a $size virtual tape image $img and formatting it"
	"$bin/mkfs.fusetape" --image-size "$size" -n demo "$img"
else
	rc=0
	"$bin/fsck.fusetape" -q "$img" >/dev/null 2>&1 || rc=$?
	case $rc in
	0) say "$img holds an LTFS volume; mounting it" ;;
	4) say "$img was not unmounted cleanly; repairing it"
	   "$bin/fsck.fusetape" -r "$img" || [ $? -eq 1 ] ;;
	*) say "$img is not an LTFS volume yet; formatting it"
	   "$bin/mkfs.fusetape" "$img" -n demo ;;
	esac
fi
"$bin/fusetape" "$img" "$mnt"
for _ in $(seq 100); do
	mountpoint -q "$mnt" && break
	sleep 0.1
done
mountpoint -q "$mnt" || { say "fusetape did not mount $img on $mnt"; exit 1; }
next_steps
