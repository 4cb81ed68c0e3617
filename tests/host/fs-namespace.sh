#!/bin/bash
# fs-namespace: directory and name semantics through the kernel: big
# directories (readdir continued over many replies), files unlinked while
# open, the errno of each refused namespace change, and parallel writers.
. "$(dirname "$0")/fs-lib.sh"
require_fuse
IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref
mkdir -p "$REF"

check "mkfs.fusetape" new_volume "$IMG" 512M
check "mount" mount_tape "$IMG" "$MNT"

# ---- a directory of 5000 files (many readdir replies) -------------------
mkdir "$REF/many"
for i in $(seq 1 5000); do echo "file $i" >"$REF/many/f$i"; done
touch -d '2020-02-02' "$REF/many"/*
tar -cf "$T/many.tar" -C "$REF" many
if timeout 300 tar -xf "$T/many.tar" -C "$MNT"; then ok "tar -x of 5000 files"; else not_ok "tar -x of 5000 files"; fi
expect_eq "ls counts 5000" "$(ls "$MNT/many" | wc -l)" 5000
expect_eq "every name once" "$(ls "$MNT/many" | sort | uniq -d | wc -l)" 0
expect_eq "ls -a adds . and .. once each" "$(ls -a "$MNT/many" | grep -cxE '\.\.?')" 2
expect_eq "ls -a of an empty directory" "$(mkdir "$MNT/empty" && ls -a "$MNT/empty" | tr '\n' ' ')" ". .. "

# entries added while a directory is read: no entry that stayed is lost
# or repeated (readdir continues by cookie)
mkdir "$MNT/grow"
for i in $(seq 1 300); do : >"$MNT/grow/old$i"; done
names=$("$PROBE" readdir-grow "$MNT/grow" 150 50)
expect_eq "every old entry seen once while new ones appear" \
	"$(grep -c '^old' <<<"$names")/$(grep '^old' <<<"$names" | sort | uniq -d | wc -l)" "300/0"
expect_eq "and nothing else went wrong" "$(grep -vcE '^(old|new)[0-9]+$|^\.\.?$' <<<"$names")" 0

# ---- unlinked while open ------------------------------------------------
echo "still here" >"$MNT/open-unlinked"
exec 7<>"$MNT/open-unlinked"
rm "$MNT/open-unlinked"
check "the name is gone" test ! -e "$MNT/open-unlinked"
expect_eq "an unlinked open file can be read" "$(cat <&7)" "still here"
echo "more" >&7
exec 7<&-
check "and written, and closed" test ! -e "$MNT/open-unlinked"

# ---- refused changes: the right errno -----------------------------------
mkdir -p "$MNT/d/sub"
echo x >"$MNT/d/file"
expect_eq "mkdir of an existing name: EEXIST" "$("$PROBE" mkdir "$MNT/d/file")" EEXIST
expect_eq "rmdir of a non-empty directory: ENOTEMPTY" "$(rmdir "$MNT/d" 2>&1 | grep -c 'not empty')" 1
expect_eq "a directory into its own subdirectory: EINVAL" "$("$PROBE" rename "$MNT/d" "$MNT/d/sub/d")" EINVAL
expect_eq "a name below a file: ENOTDIR" "$("$PROBE" creat "$MNT/d/file/x")" ENOTDIR
expect_eq "a directory over a file: ENOTDIR" "$("$PROBE" rename "$MNT/d/sub" "$MNT/d/file")" ENOTDIR
expect_eq "a file over a directory: EISDIR" "$("$PROBE" rename "$MNT/d/file" "$MNT/d/sub")" EISDIR
echo replacement >"$MNT/d/new"
expect_eq "rename over an existing file replaces it" "$("$PROBE" rename "$MNT/d/new" "$MNT/d/file")" OK
expect_eq "with the new content" "$(cat "$MNT/d/file")" replacement
expect_eq "and the old name gone" "$(ls "$MNT/d")" "$(printf 'file\nsub')"
expect_eq "rename of a missing name: ENOENT" "$("$PROBE" rename "$MNT/d/nope" "$MNT/d/x")" ENOENT
expect_eq "RENAME_EXCHANGE with a missing name: ENOENT" "$("$PROBE" rename "$MNT/d/file" "$MNT/d/nope" exchange)" ENOENT

# ---- parallel writers (the daemon serialises the core) ------------------
for i in 1 2 3 4; do head -c $((3 << 20)) /dev/urandom >"$T/p$i"; done
writers=()
for i in 1 2 3 4; do
	timeout 120 dd if="$T/p$i" of="$MNT/p$i" bs=64k status=none &
	writers+=($!)
done
wait "${writers[@]}"	# not a bare wait: the watchdog is a child too
bad=0
for i in 1 2 3 4; do cmp -s "$T/p$i" "$MNT/p$i" || bad=1; done
expect_eq "four parallel writers, every file intact" "$bad" 0

# ---- all of it after a remount ------------------------------------------
check "fusetape -u" unmount_tape "$MNT"
check "mount again" mount_tape "$IMG" "$MNT"
expect_same "5000 files after remount: names, sizes, mtimes" \
	<(listing "$REF/many") <(listing "$MNT/many")
check "5000 files after remount: contents" same_files "$REF/many" "$MNT/many"
expect_eq "the grown directory: 350 entries" "$(ls "$MNT/grow" | wc -l)" 350
expect_eq "the empty directory is still empty" "$(ls -A "$MNT/empty" | wc -l)" 0
bad=0
for i in 1 2 3 4; do cmp -s "$T/p$i" "$MNT/p$i" || bad=1; done
expect_eq "parallel-written files after remount" "$bad" 0
check "the unlinked file did not come back" test ! -e "$MNT/open-unlinked"
check "fusetape -u" unmount_tape "$MNT"
done_testing
