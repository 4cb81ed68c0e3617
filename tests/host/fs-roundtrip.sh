#!/bin/bash
# fs-roundtrip: what goes onto a fusetape mount comes back after a remount,
# byte for byte and with its metadata: cp of files of the sizes where block
# and record boundaries are, tar -x of a tree with symlinks, xattrs, odd
# names and set mtimes; then rename, unlink, overwrite in the middle,
# append, truncate and extend, and again after a remount, compared with a
# reference copy modified the same way on the local disk.
. "$(dirname "$0")/fs-lib.sh"
require_fuse

IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref			# what the tape must hold, on the local disk
mkdir -p "$REF/files" "$T/tarsrc"

# ---- the source data ---------------------------------------------------
sizes="0 1 4095 4096 524287 524288 524289 10485760 209715200"
for s in $sizes; do
	head -c "$s" /dev/urandom >"$REF/files/f$s"
done

# A tree for tar: nesting, symlinks (relative, absolute, dangling, to a
# directory), xattrs, odd names, empty files and directories, set mtimes.
S=$T/tarsrc
mkdir -p "$S/a/b/c/d" "$S/empty dir" "$S/names" "$S/x"
head -c 70000 /dev/urandom >"$S/a/b/c/d/deep.bin"
echo hello >"$S/a/hello.txt"
: >"$S/a/b/empty"
for name in 'with space' 'colon:name' 'per%cent' 'café' 'é' '日本' '日本語 ファイル.txt' \
	'#hash' "quote'd" 'semi;colon' 'tab	tab' "$(printf 'L%.0s' $(seq 1 255))"; do
	printf '%s\n' "$name" >"$S/names/$name"
done
mkdir "$S/names/目录 dir"
echo inside >"$S/names/目录 dir/inner"
ln -s hello.txt "$S/a/link-rel"
ln -s /etc/hostname "$S/a/link-abs"
ln -s does-not-exist "$S/a/link-dangling"
ln -s b/c "$S/a/link-dir"
ln -s '日本' "$S/names/link-utf8"
setfattr -n user.color -v blue "$S/a/hello.txt"
setfattr -n user.empty "$S/a/hello.txt"
setfattr -n user.bin -v 0x00ff10ee "$S/a/b/c/d/deep.bin"
setfattr -n user.long -v "$(head -c 3000 /dev/zero | tr '\0' 'v')" "$S/x"
setfattr -n user.dirattr -v on "$S/a/b"
setfattr -n 'user.名前' -v '値' "$S/names/café"
touch -h -d '1999-12-31 23:59:59.5' "$S/a/link-rel"
touch -d '2001-02-03 04:05:06.123456789' "$S/a/hello.txt"
touch -d '1970-01-02 00:00:00' "$S/a/b/empty"
touch -d '2038-01-19 03:14:08.000000001' "$S/a/b/c/d/deep.bin"
touch -d '2100-06-01 12:00:00.999999999' "$S/names/日本"
find "$S" -depth -type d -exec touch -d '2010-10-10 10:10:10.10' {} +
(cd "$S" && tar --xattrs --xattrs-include='user.*' --format=posix -cf "$T/tree.tar" .) ||
	{ not_ok "tar -c of the source tree"; done_testing; exit; }
mkdir "$REF/tree"
tar --xattrs --xattrs-include='user.*' -xf "$T/tree.tar" -C "$REF/tree"

# ---- first mount: write -----------------------------------------------
check "mkfs.fusetape makes a 1 GiB volume" new_volume "$IMG" 1G -n roundtrip
check "fusetape mounts it" mount_tape "$IMG" "$MNT"
pid1=$daemon_pid
check "the mount is there when fusetape returns" mountpoint -q "$MNT"

df_out=$(df -B1 --output=size,avail "$MNT" | tail -1)
read -r df_size df_avail0 <<<"$df_out"
if [ "${df_size:-0}" -gt $((900 << 20)) ] && [ "$df_size" -le $((1 << 30)) ] &&
   [ "$df_avail0" -le "$df_size" ] && [ "$df_avail0" -gt $((800 << 20)) ]; then
	ok "df shows the capacity ($df_size bytes, $df_avail0 free)"
else
	not_ok "df shows the capacity: size '$df_size' avail '$df_avail0' of a 1 GiB tape"
fi
bsize=$(stat -c %o "$MNT")
expect_eq "st_blksize is the block size" "$bsize" 524288
expect_eq "statfs f_bsize is the block size" "$(stat -f -c %s "$MNT")" 524288

mkdir "$MNT/files"
start=$SECONDS
if timeout 300 cp --preserve=timestamps "$REF"/files/* "$MNT/files/"; then
	ok "cp of files of sizes $sizes ($((SECONDS - start)) s)"
else
	not_ok "cp of files of sizes $sizes"
fi
touch -d '2014-04-04 04:04:04' "$REF/files" "$MNT/files"
mkdir "$MNT/tree"
if timeout 120 tar --xattrs --xattrs-include='user.*' -xf "$T/tree.tar" -C "$MNT/tree" 2>"$T/tar.err"; then
	ok "tar -x of a tree with symlinks, xattrs, odd names and set mtimes"
else
	not_ok "tar -x of the tree"
	diag <"$T/tar.err"
fi
expect_eq "mtime of tar -x kept (ns)" "$(stat -c %y "$MNT/tree/a/hello.txt")" \
	"2001-02-03 04:05:06.123456789 +0000"
expect_same "listing of the mount before unmount" <(listing "$REF") <(listing "$MNT")
check "every file readable and the same before unmount" same_files "$REF" "$MNT"

read -r _ df_avail1 <<<"$(df -B1 --output=size,avail "$MNT" | tail -1)"
if [ $((df_avail0 - df_avail1)) -ge $((210 << 20)) ]; then
	ok "df free space went down by what was written ($((df_avail0 - df_avail1)) bytes)"
else
	not_ok "df free space: $df_avail0 before, $df_avail1 after 210 MiB"
fi

# Metadata as documented: modes, owner, link counts, hard links, chown.
expect_eq "file mode, owner, links" "$(stat -c '%a %u %g %h' "$MNT/files/f1")" "644 $(id -u) $(id -g) 1"
expect_eq "directory mode" "$(stat -c '%a %F' "$MNT/tree/a")" "755 directory"
expect_eq "symlink mode" "$(stat -c '%a' "$MNT/tree/a/link-rel")" "777"
expect_eq "directory link count is 2 + subdirectories" "$(stat -c %h "$MNT/tree/a")" 3
expect_eq "hard link: EPERM" "$("$PROBE" link "$MNT/files/f1" "$MNT/files/hard")" EPERM
check "hard link left no name behind" test ! -e "$MNT/files/hard"
expect_eq "chown to another owner: EPERM" "$("$PROBE" chown "$MNT/files/f1" 12345 12345)" EPERM
expect_eq "chown to the shown owner: a no-op" "$("$PROBE" chown "$MNT/files/f1" "$(id -u)" "$(id -g)")" OK
expect_eq "mkfifo: EPERM (not storable)" "$("$PROBE" mkfifo "$MNT/fifo")" EPERM
expect_eq "non-user xattr: ENOTSUP" "$("$PROBE" setxattr "$MNT/files/f1" trusted.x 1)" EOPNOTSUPP
chmod a-w "$MNT/files/f4096"
expect_eq "chmod a-w makes it read-only (0444)" "$(stat -c %a "$MNT/files/f4096")" 444
chmod 644 "$MNT/files/f4096"
expect_eq "chmod 644 makes it writable again" "$(stat -c %a "$MNT/files/f4096")" 644
chmod 755 "$MNT/files/f1"
expect_eq "chmod +x is accepted and not stored" "$(stat -c %a "$MNT/files/f1")" 644

# touch -m / -a: the other time is left alone (UTIME_OMIT).
touch -d '2005-05-05 05:05:05.5' "$MNT/files/f1"
touch -m -d '2006-06-06 06:06:06.25' "$MNT/files/f1"
expect_eq "touch -m changes mtime only" "$(stat -c '%x|%y' "$MNT/files/f1")" \
	"2005-05-05 05:05:05.500000000 +0000|2006-06-06 06:06:06.250000000 +0000"
touch -a -d '2007-07-07 07:07:07' "$MNT/files/f1"
expect_eq "touch -a changes atime only" "$(stat -c '%x|%y' "$MNT/files/f1")" \
	"2007-07-07 07:07:07.000000000 +0000|2006-06-06 06:06:06.250000000 +0000"
touch -r "$REF/files/f1" "$MNT/files/f1"

# fsync and user.ltfs.sync write an index: the generation goes up.
gen() { getfattr --only-values -n user.ltfs.indexGeneration "$MNT" 2>/dev/null; }
g0=$(gen)
echo synced >"$MNT/synced"
echo synced >"$REF/synced"
touch -d '2011-11-11' "$MNT/synced" "$REF/synced"
expect_eq "fsync of a file succeeds" "$("$PROBE" fsync "$MNT/synced")" OK
g1=$(gen)
if [ -n "$g0" ] && [ -n "$g1" ] && [ "$g1" -gt "$g0" ]; then
	ok "fsync wrote an index (generation $g0 -> $g1)"
else
	not_ok "fsync wrote an index: generation '$g0' -> '$g1'"
fi
setfattr -n user.ltfs.sync -v 1 "$MNT/files" 2>/dev/null
g2=$(gen)
if [ "$g2" = "$g1" ]; then
	ok "user.ltfs.sync with nothing changed writes no new generation"
else
	not_ok "user.ltfs.sync with nothing changed: generation $g1 -> $g2"
fi
setfattr -n user.note -v x "$MNT/synced"
setfattr -x user.note "$MNT/synced"
setfattr -n user.ltfs.sync -v 1 "$MNT" 2>/dev/null
g3=$(gen)
if [ -n "$g3" ] && [ "$g3" -gt "$g2" ]; then
	ok "user.ltfs.sync wrote an index (generation $g2 -> $g3)"
else
	not_ok "user.ltfs.sync wrote an index: generation '$g2' -> '$g3'"
fi

# ---- unmount, remount, compare -----------------------------------------
check "fusetape -u unmounts" unmount_tape "$MNT"
check "the mount is gone when fusetape -u returns" bash -c "! mountpoint -q '$MNT'"
check "the daemon has exited when fusetape -u returns" gone "$pid1"
check "fusetape mounts it again" mount_tape "$IMG" "$MNT"
expect_same "listing after remount (sizes, types, mtimes, targets)" <(listing "$REF") <(listing "$MNT")
check "every file the same after remount (cmp)" same_files "$REF" "$MNT"
expect_same "user xattrs after remount" <(xattrs "$REF") <(xattrs "$MNT")
expect_eq "ls of a UTF-8 directory" "$(ls "$MNT/tree/names/目录 dir")" inner
mkdir "$T/back"
if timeout 120 tar --xattrs --xattrs-include='user.*' -cf - -C "$MNT" tree 2>"$T/tar.err" |
	timeout 120 tar --xattrs --xattrs-include='user.*' -xf - -C "$T/back" 2>>"$T/tar.err"; then
	ok "tar -c of the mount"
else
	not_ok "tar -c of the mount"
	diag <"$T/tar.err"
fi
expect_same "tar -c of the mount restores the original tree (listing)" \
	<(listing "$REF/tree") <(listing "$T/back/tree")
expect_same "tar -c of the mount restores the original tree (xattrs)" \
	<(xattrs "$REF/tree") <(xattrs "$T/back/tree")
check "tar -c of the mount restores the original tree (contents)" same_files "$REF/tree" "$T/back/tree"
expect_eq "no sanitizer report so far" "$(ls "$T"/sanitizer* 2>/dev/null | wc -l)" 0

# ---- modify the same way on the tape and on the reference ---------------
ino_before=$(stat -c %i "$MNT/files/f1")
head -c 102400 /dev/urandom >"$T/patch"
head -c 77777 /dev/urandom >"$T/tail"
modify() {
	local d=$1
	mv "$d/files/f1" "$d/files/renamed" &&
	mv "$d/tree/a/b" "$d/tree/moved-b" &&
	rm "$d/files/f4095" "$d/tree/a/link-dangling" &&
	rmdir "$d/tree/empty dir" &&
	dd if="$T/patch" of="$d/files/f10485760" bs=4096 seek=768 conv=notrunc status=none &&
	dd if="$T/patch" of="$d/files/f209715200" bs=4096 seek=123456789 oflag=seek_bytes conv=notrunc status=none &&
	cat "$T/tail" >>"$d/files/f524288" &&
	cat "$T/tail" >>"$d/files/f0" &&
	truncate -s 1000 "$d/files/f524289" &&
	truncate -s 20M "$d/files/f4096" &&
	dd if="$T/patch" of="$d/files/f4096" bs=4096 seek=$((15 << 20)) oflag=seek_bytes conv=notrunc status=none &&
	echo replaced >"$d/tree/a/hello.txt" &&
	touch -d '2012-12-12 12:12:12.12' "$d/files/f10485760" "$d/files/f209715200" \
		"$d/files/f524288" "$d/files/f0" "$d/files/f524289" "$d/files/f4096" \
		"$d/tree/a/hello.txt"
}
check "modify the reference copy" modify "$REF"
if timeout 300 bash -c "$(declare -f modify); T='$T'; modify '$MNT'"; then
	ok "rename, unlink, rmdir, overwrite in the middle, append, truncate, extend on the tape"
else
	not_ok "modifications on the tape"
fi
expect_eq "rename keeps the inode number (file UID)" "$(stat -c %i "$MNT/files/renamed")" "$ino_before"
expect_eq "extended file is sparse (blocks < size)" \
	"$(( $(stat -c %b "$MNT/files/f4096") * 512 < 20 << 20 ))" 1

echo one >"$MNT/x1"; echo two >"$MNT/x2"
echo one >"$REF/x1"; echo two >"$REF/x2"
expect_eq "rename RENAME_NOREPLACE onto an existing name: EEXIST" \
	"$("$PROBE" rename "$MNT/x1" "$MNT/x2" noreplace)" EEXIST
expect_eq "rename RENAME_EXCHANGE" "$("$PROBE" rename "$MNT/x1" "$MNT/x2" exchange)" OK
"$PROBE" rename "$REF/x1" "$REF/x2" exchange >/dev/null
expect_eq "after RENAME_EXCHANGE the contents swapped" "$(cat "$MNT/x1")" two
touch -d '2013-01-01' "$MNT/x1" "$MNT/x2" "$REF/x1" "$REF/x2"
expect_same "listing after the changes, before unmount" <(listing_nodirtimes "$REF") <(listing_nodirtimes "$MNT")

check "fusetape -u unmounts after the changes" unmount_tape "$MNT"
check "fusetape mounts it a third time" mount_tape "$IMG" "$MNT"
expect_same "listing after the changes and a remount" <(listing_nodirtimes "$REF") <(listing_nodirtimes "$MNT")
check "every file the same after the changes and a remount (cmp)" same_files "$REF" "$MNT"
expect_same "user xattrs after the changes and a remount" <(xattrs "$REF") <(xattrs "$MNT")
expect_eq "rename kept the inode number across the remount" "$(stat -c %i "$MNT/files/renamed")" "$ino_before"
check "fusetape -u at the end" unmount_tape "$MNT"
done_testing
