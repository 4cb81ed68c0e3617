#!/bin/bash
# fs-errors: what fusetape does with what it cannot or must not mount or
# write: bad command lines (exit 2), devices that do not open (3), media
# that are not LTFS or are damaged (4: a clear message, nothing mounted),
# write-protected media and -o ro (mounted read-only, EROFS, the image
# untouched), and a full tape (ENOSPC, then every complete file intact).
. "$(dirname "$0")/fs-lib.sh"
require_fuse
MNT=$T/mnt
mkdir -p "$MNT"
out=$T/out

not_mounted() { ! mountpoint -q "$MNT"; }

# ---- command line ------------------------------------------------------
expect_rc 0 "--help" "$out" "$FT" --help
expect_grep "--help shows the usage and -u" "$out" 'fusetape -u MOUNTPOINT'
expect_rc 0 "--version" "$out" "$FT" --version
expect_grep "--version shows the version" "$out" '^fusetape [0-9]'
expect_rc 2 "no arguments" "$out" "$FT"
expect_rc 2 "no mount point" "$out" "$FT" "$T/whatever.img"
expect_rc 2 "three arguments" "$out" "$FT" a "$MNT" c
expect_rc 2 "unknown -o option" "$out" "$FT" "$T/none.img" "$MNT" -o no_such_option
expect_grep "unknown option named" "$out" 'no_such_option'
expect_rc 2 "sync_interval not a number" "$out" "$FT" "$T/none.img" "$MNT" -o sync_interval=soon
expect_grep "bad value named" "$out" 'sync_interval=soon'
expect_rc 2 "negative uid" "$out" "$FT" "$T/none.img" "$MNT" -o uid=-1
expect_rc 2 "umask not octal" "$out" "$FT" "$T/none.img" "$MNT" -o umask=999
expect_rc 2 "unknown flag" "$out" "$FT" "$T/none.img" "$MNT" --frobnicate
expect_rc 2 "-u without a mount point" "$out" "$FT" -u
expect_rc 5 "-u on a directory that is no fusetape mount" "$out" "$FT" -u "$MNT"
expect_grep "-u says why" "$out" 'not a mounted fusetape'

# ---- what cannot be mounted --------------------------------------------
expect_rc 3 "a device that does not exist" "$out" "$FT" "$T/none.img" "$MNT"
expect_grep "message names the device" "$out" 'none\.img'
check "nothing mounted" not_mounted

head -c 1M /dev/urandom >"$T/garbage"
expect_rc 3 "a file that is not a tape image" "$out" "$FT" "$T/garbage" "$MNT"
check "nothing mounted" not_mounted

new_volume "$T/ok.img" 64M || not_ok "mkfs.fusetape 64M"
expect_rc 5 "a mount point that does not exist" "$out" "$FT" "$T/ok.img" "$T/no-such-dir"

"$IMGTOOL" create --size 64M "$T/blank.img" >"$out" 2>&1 || not_ok "fusetape-image create"
expect_rc 4 "a blank tape" "$out" "$FT" "$T/blank.img" "$MNT"
expect_grep "says it is not LTFS" "$out" 'not an LTFS volume'
check "nothing mounted" not_mounted

# A volume cut short: the image file ends in the middle of the data.
new_volume "$T/cut.img" 64M
mount_tape "$T/cut.img" "$MNT" && {
	head -c 5M /dev/urandom >"$MNT/data"
	unmount_tape "$MNT"
}
len=$(stat -c %s "$T/cut.img")
truncate -s $((len / 2)) "$T/cut.img"
rc=0
"$FT" "$T/cut.img" "$MNT" >"$out" 2>&1 </dev/null || rc=$?
if [ $rc -eq 3 ] || [ $rc -eq 4 ]; then
	ok "a truncated image is refused (exit $rc)"
else
	not_ok "a truncated image: exit $rc, want 3 or 4"
	diag <"$out"
	mountpoint -q "$MNT" && { mounts+=("$MNT"); unmount_tape "$MNT"; }
fi
expect_grep "with a message" "$out" 'cut\.img'
check "nothing mounted" not_mounted

# ---- read-only ---------------------------------------------------------
new_volume "$T/ro.img" 64M
mount_tape "$T/ro.img" "$MNT" && {
	echo keep >"$MNT/kept"
	unmount_tape "$MNT"
}
sum_before=$(sha256sum <"$T/ro.img")
if mount_tape "$T/ro.img" "$MNT" -o ro; then
	ok "-o ro mounts"
	expect_eq "a file can be read" "$(cat "$MNT/kept")" keep
	expect_eq "creating a file: EROFS" "$("$PROBE" creat "$MNT/new")" EROFS
	expect_eq "writing a file: EROFS" "$("$PROBE" write "$MNT/kept" 0 10)" EROFS
	expect_eq "mkdir: EROFS" "$("$PROBE" mkdir "$MNT/d")" EROFS
	expect_eq "setxattr: EROFS" "$("$PROBE" setxattr "$MNT/kept" user.a b)" EROFS
	check "fusetape -u" unmount_tape "$MNT"
else
	not_ok "-o ro mounts"
fi
expect_eq "-o ro left the image as it was" "$(sha256sum <"$T/ro.img")" "$sum_before"

"$IMGTOOL" set --read-only "$T/ro.img" >"$out" 2>&1 || not_ok "fusetape-image set --read-only"
sum_before=$(sha256sum <"$T/ro.img")
if mount_tape "$T/ro.img" "$MNT"; then
	ok "a write-protected tape mounts"
	expect_grep "with a notice that it is read-only" "$T/mount.out" 'read-only'
	expect_eq "it is mounted read-only" "$(findmnt -n -o OPTIONS "$MNT" | tr , '\n' | grep -x ro)" ro
	expect_eq "a file can be read" "$(cat "$MNT/kept")" keep
	expect_eq "creating a file: EROFS" "$("$PROBE" creat "$MNT/new")" EROFS
	expect_eq "renaming: EROFS" "$("$PROBE" rename "$MNT/kept" "$MNT/other")" EROFS
	check "fusetape -u" unmount_tape "$MNT"
else
	not_ok "a write-protected tape mounts"
fi
expect_eq "the write-protected image is unchanged" "$(sha256sum <"$T/ro.img")" "$sum_before"

# ---- a full tape -------------------------------------------------------
new_volume "$T/full.img" 64M
if mount_tape "$T/full.img" "$MNT"; then
	head -c 1M /dev/urandom >"$T/small1"
	head -c 5M /dev/urandom >"$T/small2"
	cp "$T/small1" "$T/small2" "$MNT/"
	read -r _ avail <<<"$(df -B1 --output=size,avail "$MNT" | tail -1)"
	res=$(timeout 120 "$PROBE" fill "$MNT/big" 1048576)
	expect_eq "filling the tape ends in ENOSPC" "${res%% *}" ENOSPC
	written=${res#* }
	if [ "$written" -gt $((avail / 2)) ] && [ "$written" -le "$avail" ]; then
		ok "it wrote about the free space first ($written of $avail bytes)"
	else
		not_ok "written before ENOSPC: $written, free space was $avail"
	fi
	size=$(stat -c %s "$MNT/big")
	expect_eq "the full file's size is what was written" "$size" "$written"
	if cp "$T/small1" "$MNT/after-full" 2>"$out"; then
		not_ok "cp onto a full tape fails"
	else
		expect_grep "cp onto a full tape fails with ENOSPC" "$out" 'No space left'
	fi
	check "fusetape -u of a full tape" unmount_tape "$MNT"
	if mount_tape "$T/full.img" "$MNT"; then
		ok "the full tape mounts again"
		check "first small file intact" cmp "$T/small1" "$MNT/small1"
		check "second small file intact" cmp "$T/small2" "$MNT/small2"
		expect_eq "the filled file kept its length" "$(stat -c %s "$MNT/big")" "$written"
		check "the filled file's data is intact" cmp "$MNT/big" <("$PROBE" pattern "$written" 1048576)
		rm "$MNT/big"
		check "fusetape -u" unmount_tape "$MNT"
	else
		not_ok "the full tape mounts again"
	fi
else
	not_ok "mount the small volume"
fi
done_testing
