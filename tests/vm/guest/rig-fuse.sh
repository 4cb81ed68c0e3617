#!/bin/sh
# rig-fuse.sh - the guest can run the project's dynamically linked binaries
# and mount FUSE filesystems: a fusetape volume on a virtual tape image in
# tmpfs is made, mounted, filled, unmounted and mounted again.  If this
# fails, tests that mount fusetape on the drive cannot work either.
. "$(dirname "$0")/lib/guest.sh"
need_bins mkfs.fusetape fusetape
[ -c /dev/fuse ]
check $? "/dev/fuse exists"
mkdir -p mnt
head -c 2000000 /dev/urandom >data

logged mkfs "$B/mkfs.fusetape" -q --image-size 64M -n rigvol tape.img
check $? "mkfs.fusetape on a 64 MiB image"
logged fusetape "$B/fusetape" tape.img mnt
rc=$?
check $rc "fusetape mounts it"
[ $rc -eq 0 ] || { tap_end; exit 1; }
cp data mnt/data
check $? "copy a file in"
logged "fusetape -u" "$B/fusetape" -u mnt
check $? "unmount"
logged fusetape "$B/fusetape" tape.img mnt
check $? "mount again"
cmp -s data mnt/data
check $? "the file survived the remount"
logged "fusetape -u" "$B/fusetape" -u mnt
check $? "unmount"
tap_end
