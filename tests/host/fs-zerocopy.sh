#!/bin/bash
# fs-zerocopy: the zero-copy data path on a virtual tape image.  Write
# requests land in the core's write stream and go to tape from there
# (io_uring, O_DIRECT, registered buffers where the backend has them): a
# large cp is carried by landed bytes with nothing copied (the
# counters of user.fusetape.stats say so), several large files in a row
# and a tar of many small and large files come back identical after a
# remount, read through image ranges spliced into /dev/fuse.  The pieces
# that cannot land in place (an overwrite in the middle, holes, data still
# in the record being filled) stay byte-identical too; -o nolanding and
# -o nosplice turn the two halves off.  Write-only opens bypass the page
# cache (-o cachedwrites turns that off) without making cached pages stale.  (The landing API's corner cases,
# the sync race and a deferred write error are tested in
# tests/unit/test_ltfs_zerocopy.c.)  Needs root (splice replies need 2 MiB
# pipes: the daemon raises /proc/sys/fs/pipe-max-size when it must).
. "$(dirname "$0")/fs-lib.sh"
require_fuse
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (2 MiB pipes for splice replies)"
	exit 77
fi

IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref
mkdir -p "$REF"


new_volume "$IMG" 768M || { echo "1..0 # SKIP mkfs.fusetape failed"; exit 1; }
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
wp=$(stat_of "write path")
check "the mount says write requests land in the stream ($wp)" [ "${wp#landing: }" != "$wp" ]
expect_eq "reads are answered by splice on an image" "$(stat_of "read path")" "splice (image)"
# reads come in large requests: the daemon raised the mount's read-ahead
# (after FUSE_INIT, which would otherwise cap it at 128 KiB)
ls "$MNT" >/dev/null
dev=$(awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
expect_eq "the mount's read-ahead is 4 MiB" "$(cat "/sys/class/bdi/$dev/read_ahead_kb" 2>&1)" "4096"

# ---- a big copy: landed, nothing copied ---------------------------------
size=$((64 << 20))
head -c $size /dev/urandom >"$REF/big"
req0=$(stat_of "requests")
cp "$REF/big" "$MNT/big"
req1=$(stat_of "requests")
# 128 writes of 512 KiB (st_blksize): without FUSE_HANDLE_KILLPRIV_V2 each
# would come with a getxattr of security.capability, twice the requests
check "cp of 64 MiB: about one request per write ($((req1 - req0)) requests)" \
	[ $((req1 - req0)) -le 160 ]
landed=$(stat_of "write landed")
copied=$(stat_of "write copied")
check "cp of 64 MiB: at least 95% landed (landed $landed, copied $copied)" \
	[ "${landed:-0}" -ge $((size * 95 / 100)) ]
# twice round the 32 MiB write ring, which is mapped twice back to back:
# going round moves nothing
check "cp of 64 MiB: nothing copied (copied $copied)" \
	[ "${copied:-$size}" -eq 0 ]
expect_eq "write bytes counts the whole file" "$(stat_of "write bytes")" "$size"
queued=$(stat_of "records queued")
check "the records were queued from the stream ($queued)" [ "${queued:-0}" -ge 127 ]
check "read back while mounted: identical" cmp -s "$REF/big" "$MNT/big"
check "cp's write-only open bypassed the page cache ($(stat_of "uncached write opens") uncached)" \
	[ "$(stat_of "uncached write opens")" -ge 1 ]

# ---- uncached writers and the page cache --------------------------------
# A write-only open of a file nobody has open is uncached; while it lasts
# the file's other opens are too, so nothing cached goes stale.
printf 'AAAAAAAAAA' >"$REF/co"
cp "$REF/co" "$MNT/co"
u0=$(stat_of "uncached write opens")
exec 6>>"$MNT/co"		# O_WRONLY|O_APPEND, nobody else has it open
expect_eq "a write-only open of an unopened file is uncached" \
	"$(stat_of "uncached write opens")" "$((u0 + 1))"
printf 'BBBB' >&6
expect_eq "a reader during it sees the write" "$(cat "$MNT/co")" "AAAAAAAAAABBBB"
printf 'CCCC' >&6
expect_eq "... and the next one (no stale page)" "$(cat "$MNT/co")" "AAAAAAAAAABBBBCCCC"
exec 6>&-
expect_eq "after the writer closed: all of it" "$(cat "$MNT/co")" "AAAAAAAAAABBBBCCCC"
# a reader holds the file open (and its pages cached): a writer that comes
# now is cached too, and the reader sees its writes
exec 5<"$MNT/co"
head -c 4 <&5 >/dev/null
u1=$(stat_of "uncached write opens")
printf 'XYZ' | dd of="$MNT/co" bs=1 seek=2 conv=notrunc status=none
expect_eq "a write-only open while a reader has the file open is cached" \
	"$(stat_of "uncached write opens")" "$u1"
expect_eq "... and the reader sees the write" \
	"$(dd bs=1 skip=2 count=3 status=none <"$MNT/co")" "XYZ"
exec 5<&-
printf 'AAXYZAAAAABBBBCCCC' >"$REF/co"

# ---- several large files in a row ---------------------------------------
for i in 1 2 3; do
	head -c $(( (i * 7 + 5) << 20 | i * 4097 )) /dev/urandom >"$REF/row$i"
	cp "$REF/row$i" "$MNT/row$i"
done
wb=$(stat_of "write bytes")
landed=$(stat_of "write landed")
copied=$(stat_of "write copied")
check "three more large files: at least 95% of all writes landed ($landed of $wb)" \
	[ "${landed:-0}" -ge $(( ${wb:-1} * 95 / 100 )) ]
check "... at most 2 MiB copied in all ($copied)" [ "${copied:-$wb}" -le $((2 << 20)) ]

# ---- a tar of many small and large files --------------------------------
mkdir -p "$T/tree/a/b" "$T/tree/c"
for i in $(seq 1 150); do
	head -c $(( (i * 7919) % 20000 )) /dev/urandom >"$T/tree/a/s$i"
done
for i in $(seq 1 40); do
	head -c $(( i * 1237 )) /dev/urandom >"$T/tree/a/b/t$i"
done
head -c $((9 << 20)) /dev/urandom >"$T/tree/c/large1"
head -c $(( (5 << 20) + 333 )) /dev/urandom >"$T/tree/c/large2"
head -c 1 /dev/urandom >"$T/tree/c/one"
mkdir -p "$MNT/tree"
(cd "$T/tree" && tar cf - .) | (cd "$MNT/tree" && tar xf - --no-same-owner)
check "tar of many small and large files: identical while mounted" diff -r "$T/tree" "$MNT/tree"

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
# the end of what is written stays in the record being filled until the unmount;
# read it from the daemon, not from the page cache
echo 3 >/proc/sys/vm/drop_caches
check "mixed writes read back before the unmount: identical" same_files "$REF" "$MNT"
# an overwrite is new data at the end of the stream on tape: it lands too.
# The odd chunks after the first end the stream unaligned and continue
# their file: they are moved down (one extent) rather than padded apart,
# which is the 3 MiB file less its first chunk.
copied2=$(stat_of "write copied")
check "mixed writes: only the odd chunks were moved (copied $copied -> $copied2)" \
	[ "${copied2:-$wb}" -le $(( (3 << 20) - 777777 + (2 << 20) )) ]
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
check "after remount the tar tree is identical" diff -r "$T/tree" "$MNT/tree"
unmount_tape "$MNT" || not_ok "unmount after reading"

# ---- -o nolanding, -o nosplice ------------------------------------------
new_volume "$IMG" 256M || { not_ok "mkfs"; done_testing; exit; }
mount_tape "$IMG" "$MNT" -o nolanding,nosplice || { not_ok "mount -o nolanding,nosplice"; done_testing; exit; }
expect_eq "-o nolanding says so" "$(stat_of "write path")" "copy: -o nolanding"
expect_eq "-o nosplice says so" "$(stat_of "read path")" "copy: -o nosplice"
head -c $((8 << 20)) /dev/urandom >"$REF/ns"
head -c 3000 /dev/urandom >"$REF/ns-small"
cp "$REF/ns-small" "$MNT/ns-small"
cp "$REF/ns" "$MNT/ns"
expect_eq "-o nolanding: nothing landed" "$(stat_of "write landed")" "0"
copied=$(stat_of "write copied")
check "-o nolanding: the file after a small one was copied ($copied)" \
	[ "${copied:-0}" -ge $((8 << 20)) ]
unmount_tape "$MNT" || not_ok "unmount -o nolanding"
echo 3 >/proc/sys/vm/drop_caches
mount_tape "$IMG" "$MNT" -o nosplice || { not_ok "remount -o nosplice"; done_testing; exit; }
check "-o nolanding: identical after remount" cmp -s "$REF/ns" "$MNT/ns"
check "-o nolanding: the small file too" cmp -s "$REF/ns-small" "$MNT/ns-small"
expect_eq "-o nosplice: nothing read by splice" "$(stat_of "read spliced")" "0"
unmount_tape "$MNT" || not_ok "unmount -o nosplice"
mount_tape "$IMG" "$MNT" -o cachedwrites || { not_ok "mount -o cachedwrites"; done_testing; exit; }
cp "$REF/ns-small" "$MNT/cw"
expect_eq "-o cachedwrites: no uncached write open" "$(stat_of "uncached write opens")" "0"
check "-o cachedwrites: the file reads back" cmp -s "$REF/ns-small" "$MNT/cw"
unmount_tape "$MNT" || not_ok "unmount -o cachedwrites"

# writes of 100000 bytes: at the ring's end a record is part-filled; the
# mirrored ring (the default) goes on in place, a plain one moves it
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
dd if="$REF/big" of="$MNT/mr" bs=100000 status=none
expect_eq "writes of 100000 bytes twice round the mirrored ring: nothing copied" \
	"$(stat_of "write copied")" "0"
unmount_tape "$MNT" || not_ok "unmount"
mount_tape "$IMG" "$MNT" -o plainring || { not_ok "mount -o plainring"; done_testing; exit; }
dd if="$REF/big" of="$MNT/pr" bs=100000 status=none
copied=$(stat_of "write copied")
check "-o plainring: going round the ring moved bytes ($copied)" [ "${copied:-0}" -gt 0 ]
unmount_tape "$MNT" || not_ok "unmount -o plainring"
mount_tape "$IMG" "$MNT" || { not_ok "remount after -o plainring"; done_testing; exit; }
check "-o plainring: the file reads back identical" cmp -s "$REF/big" "$MNT/pr"
check "... and the one written through the mirrored ring" cmp -s "$REF/big" "$MNT/mr"
unmount_tape "$MNT" || not_ok "unmount"

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

# ---- the counters at unmount --------------------------------------------
# the unmount log line is written once every queued record has retired,
# so it counts what reached the tape, also when the session ends by a
# plain umount (no sync request first); the time blocked on it is shown
mount_fg "$IMG" "$MNT" || { not_ok "mount -f"; done_testing; exit; }
head -c $((48 << 20)) /dev/urandom >"$REF/last"
cp "$REF/last" "$MNT/last"
tw=$(stat_of "tape wait seconds")
check "tape wait seconds is a number of seconds ($tw)" \
	awk -v t="$tw" 'BEGIN { exit !(t ~ /^[0-9]+\.[0-9][0-9]$/) }'
check "umount" umount "$MNT"
wait "$daemon_pid"
line=$(grep "unmount: " "$T/daemon.log")
queued=$(echo "$line" | tr ';' '\n' | sed -n 's/^records queued: //p')
retired=$(echo "$line" | tr ';' '\n' | sed -n 's/^records retired: //p')
check "the unmount line counts 48 MiB of records queued ($queued)" \
	[ "${queued:-0}" -ge 96 ]
expect_eq "... and all of them retired" "${retired:-none}" "${queued:-0}"
done_testing
