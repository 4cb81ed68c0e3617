#!/bin/bash
# fs-options: the mount options do what fusetape(1) says: uid=, gid=,
# umask= shape the metadata shown (and what chown accepts), allow_other
# reaches the kernel, the device is the mount's source, a tape already in
# use is refused, and fsync of a directory writes an index.
. "$(dirname "$0")/fs-lib.sh"
require_fuse
IMG=$T/tape.img
MNT=$T/mnt
out=$T/out
gen() { getfattr --only-values -n user.ltfs.indexGeneration "$MNT" 2>/dev/null; }

check "mkfs.fusetape" new_volume "$IMG" 128M

if mount_tape "$IMG" "$MNT" -o uid=1234,gid=5678,umask=027,allow_other; then
	ok "mount with uid=, gid=, umask=, allow_other"
	mkdir "$MNT/d"
	echo x >"$MNT/d/f"
	ln -s f "$MNT/d/l"
	expect_eq "file: owner, group, mode from the options" "$(stat -c '%u %g %a' "$MNT/d/f")" "1234 5678 640"
	expect_eq "directory: owner, group, mode" "$(stat -c '%u %g %a' "$MNT/d")" "1234 5678 750"
	expect_eq "root directory too" "$(stat -c '%u %g %a' "$MNT")" "1234 5678 750"
	expect_eq "symlink: 0777 whatever the umask" "$(stat -c '%a' "$MNT/d/l")" 777
	chmod a-w "$MNT/d/f"
	expect_eq "read-only file under umask 027" "$(stat -c '%a' "$MNT/d/f")" 440
	expect_eq "chown to the shown owner is a no-op" "$("$PROBE" chown "$MNT/d/f" 1234 5678)" OK
	expect_eq "chown to root: EPERM" "$("$PROBE" chown "$MNT/d/f" 0 0)" EPERM
	expect_eq "chown of the group only, to another: EPERM" "$("$PROBE" chown "$MNT/d/f" -1 0)" EPERM
	expect_grep "allow_other reached the kernel" <(findmnt -n -o OPTIONS "$MNT") 'allow_other'
	expect_eq "the mount's source is the device" "$(findmnt -n -o SOURCE "$MNT")" "$(realpath "$IMG")"
	expect_eq "the mount's type" "$(findmnt -n -o FSTYPE "$MNT")" fuse.fusetape
	expect_eq "default_permissions is on" \
		"$(findmnt -n -o OPTIONS "$MNT" | tr , '\n' | grep -cx default_permissions)" 1

	# a second daemon on the same tape is refused while the first has it
	mkdir -p "$T/mnt2"
	expect_rc 3 "a tape already mounted is refused" "$out" "$FT" "$IMG" "$T/mnt2"
	expect_grep "with a message" "$out" 'tape\.img'
	check "and the second mount point stays empty" bash -c "! mountpoint -q '$T/mnt2'"

	g0=$(gen)
	echo y >"$MNT/d/g"
	expect_eq "fsync of a directory" "$("$PROBE" fsync "$MNT/d")" OK
	g1=$(gen)
	if [ -n "$g0" ] && [ "$g1" -gt "$g0" ]; then
		ok "fsync of a directory wrote an index ($g0 -> $g1)"
	else
		not_ok "fsync of a directory wrote an index: '$g0' -> '$g1'"
	fi
	expect_eq "syncfs succeeds (it does not reach the daemon)" "$("$PROBE" syncfs "$MNT/d")" OK
	expect_eq "virtual creation time is readable" \
		"$(getfattr --only-values -n user.ltfs.createTime "$MNT/d/g" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T')" 1
	expect_eq "virtual attributes are read-only" "$("$PROBE" setxattr "$MNT/d/g" user.ltfs.createTime x)" EPERM
	expect_eq "virtual attributes are not listed" "$(getfattr -d -m - "$MNT/d/g" 2>/dev/null | grep -c ltfs)" 0
	expect_eq "control attributes are not stored" "$("$PROBE" setxattr "$MNT" user.fusetape.pid 1)" EPERM
	expect_eq "a value over 4096 bytes: E2BIG" \
		"$("$PROBE" setxattr "$MNT/d/g" user.big "$(head -c 4097 /dev/zero | tr '\0' a)")" E2BIG
	expect_eq "a name over 255 bytes: ENAMETOOLONG" \
		"$("$PROBE" creat "$MNT/$(printf 'n%.0s' $(seq 1 256))")" ENAMETOOLONG
	check "fusetape -u" unmount_tape "$MNT"
else
	not_ok "mount with uid=, gid=, umask=, allow_other"
fi

# A damaged volume: the labels cannot be read (records fail their checksum).
check "mkfs.fusetape" new_volume "$T/bad.img" 64M
for off in $(grep -boa '<ltfslabel' "$T/bad.img" | cut -d: -f1); do
	printf 'XXXXXXXXXX' | dd of="$T/bad.img" bs=1 seek="$off" conv=notrunc status=none
done
expect_rc 4 "a volume with damaged labels is refused" "$out" "$FT" "$T/bad.img" "$MNT"
expect_grep "with a message about the medium" "$out" 'bad\.img: (damaged|not an LTFS|cannot mount)'
check "nothing mounted" bash -c "! mountpoint -q '$MNT'"
done_testing
