#!/bin/bash
# fs-zerocopy: the splice data path on a virtual tape image.  A large cp is
# carried by splice (the counters of user.fusetape.stats say so) and comes
# back byte-identical after a remount, read through image ranges spliced
# into /dev/fuse; the pieces that cannot go that way (unaligned writes,
# small files sharing records, an overwrite in the middle, a hole, data
# still in the write buffer) take the copy path and stay byte-identical
# too; -o nosplice turns it off.  (A damaged record read by the spliced
# path is tested in tests/unit/test_ltfs_zerocopy.c.)  Needs root (the splice path needs 2 MiB
# pipes: the daemon raises /proc/sys/fs/pipe-max-size when it must).
. "$(dirname "$0")/fs-lib.sh"
require_fuse
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (2 MiB pipes for splice)"
	exit 77
fi

IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref
mkdir -p "$REF"

# stat NAME: the value of one line of user.fusetape.stats on $MNT
stat_of() {
	getfattr --only-values -n user.fusetape.stats "$MNT" 2>/dev/null |
		sed -n "s/^$1: //p"
}

new_volume "$IMG" 512M || { echo "1..0 # SKIP mkfs.fusetape failed"; exit 1; }
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
dp=$(stat_of "data path")
expect_eq "the mount says it uses splice on an image" "$dp" "splice (image)"
# reads come in large requests: the daemon raised the mount's read-ahead
# (after FUSE_INIT, which would otherwise cap it at 128 KiB)
ls "$MNT" >/dev/null
dev=$(awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
expect_eq "the mount's read-ahead is 4 MiB" "$(cat "/sys/class/bdi/$dev/read_ahead_kb" 2>&1)" "4096"

# ---- a big aligned copy: splice -----------------------------------------
size=$((64 << 20))
head -c $size /dev/urandom >"$REF/big"
cp "$REF/big" "$MNT/big"
spliced=$(stat_of "write spliced")
copied=$(stat_of "write copied")
check "cp of 64 MiB: at least 90% spliced (spliced $spliced, copied $copied)" \
	[ "${spliced:-0}" -ge $((size * 9 / 10)) ]
check "cp of 64 MiB: at most 1 MiB copied (copied $copied)" \
	[ "${copied:-$size}" -le $((1 << 20)) ]
expect_eq "write bytes counts the whole file" "$(stat_of "write bytes")" "$size"
check "read back while mounted (page cache): identical" cmp -s "$REF/big" "$MNT/big"

# ---- the copy path mixed in --------------------------------------------
# small files share records with each other and with what follows
for i in 1 2 3 4 5; do
	head -c $((i * 1000 + 17)) /dev/urandom >"$REF/small$i"
	cp "$REF/small$i" "$MNT/small$i"
done
# a file that starts in the middle of a record, written in odd chunks
head -c $((3 << 20)) /dev/urandom >"$REF/odd"
dd if="$REF/odd" of="$MNT/odd" bs=777777 status=none
# an overwrite in the middle of the big file, unaligned
head -c 300001 /dev/urandom >"$T/patch"
dd if="$T/patch" of="$REF/big" bs=300001 seek=12345 oflag=seek_bytes conv=notrunc status=none
dd if="$T/patch" of="$MNT/big" bs=300001 seek=12345 oflag=seek_bytes conv=notrunc status=none
# a hole, then data
truncate -s $((5 << 20)) "$REF/holey"
truncate -s $((5 << 20)) "$MNT/holey"
head -c $((2 << 20)) /dev/urandom >"$T/tail"
cat "$T/tail" >>"$REF/holey"
cat "$T/tail" >>"$MNT/holey"
# the end of what is written stays in the write buffer until the unmount;
# read it from the daemon, not from the page cache
echo 3 >/proc/sys/vm/drop_caches
check "mixed writes read back before the unmount: identical" same_files "$REF" "$MNT"
copied2=$(stat_of "write copied")
check "the unaligned pieces went through memory (copied grew: $copied -> $copied2)" \
	[ "${copied2:-0}" -gt "${copied:-0}" ]
unmount_tape "$MNT" || not_ok "unmount"

# ---- read after remount: spliced image ranges ---------------------------
echo 3 >/proc/sys/vm/drop_caches
mount_tape "$IMG" "$MNT" || { not_ok "remount"; done_testing; exit; }
check "after remount the big file is identical" cmp -s "$REF/big" "$MNT/big"
rspliced=$(stat_of "read spliced")
rcopied=$(stat_of "read copied")
check "reading 64 MiB after remount: at least 90% spliced (spliced $rspliced, copied $rcopied)" \
	[ "${rspliced:-0}" -ge $((size * 9 / 10)) ]
verified=$(stat_of "records verified")
check "the records read were checked against their CRC ($verified)" [ "${verified:-0}" -ge 100 ]
check "after remount every file is identical" same_files "$REF" "$MNT"
unmount_tape "$MNT" || not_ok "unmount after reading"

# ---- -o nosplice --------------------------------------------------------
new_volume "$IMG" 256M || { not_ok "mkfs"; done_testing; exit; }
mount_tape "$IMG" "$MNT" -o nosplice || { not_ok "mount -o nosplice"; done_testing; exit; }
expect_eq "-o nosplice says so" "$(stat_of "data path")" "copy: -o nosplice"
head -c $((8 << 20)) /dev/urandom >"$REF/ns"
cp "$REF/ns" "$MNT/ns"
expect_eq "-o nosplice: nothing spliced" "$(stat_of "write spliced")" "0"
unmount_tape "$MNT" || not_ok "unmount -o nosplice"
echo 3 >/proc/sys/vm/drop_caches
mount_tape "$IMG" "$MNT" -o nosplice || { not_ok "remount -o nosplice"; done_testing; exit; }
check "-o nosplice: identical after remount" cmp -s "$REF/ns" "$MNT/ns"
expect_eq "-o nosplice: nothing read by splice" "$(stat_of "read spliced")" "0"
unmount_tape "$MNT" || not_ok "unmount -o nosplice"

# the stats attribute is read-only and not listed
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
if setfattr -n user.fusetape.stats -v x "$MNT" 2>/dev/null; then
	not_ok "user.fusetape.stats can be set"
else
	ok "user.fusetape.stats cannot be set"
fi
if getfattr -d "$MNT" 2>/dev/null | grep -q fusetape.stats; then
	not_ok "user.fusetape.stats is listed"
else
	ok "user.fusetape.stats is not listed"
fi
unmount_tape "$MNT" || not_ok "unmount"
done_testing
