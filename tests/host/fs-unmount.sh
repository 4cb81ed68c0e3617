#!/bin/bash
# fs-unmount: every way a fusetape session ends puts the index on tape.
# fusetape -u returns only when the daemon has written it and exited; a
# plain umount and SIGTERM make the daemon write it and exit 0; a busy
# mount stays mounted and usable; the periodic sync writes an index on its
# own; the daemonized default is mounted when fusetape returns.
. "$(dirname "$0")/fs-lib.sh"
require_fuse
IMG=$T/tape.img
MNT=$T/mnt
out=$T/out
gen() { getfattr --only-values -n user.ltfs.indexGeneration "$MNT" 2>/dev/null; }

check "mkfs.fusetape" new_volume "$IMG" 256M

# ---- fusetape -u with the daemonized default ---------------------------
check "fusetape (daemonized) returns with the filesystem mounted" mount_tape "$IMG" "$MNT"
check "mounted on return" mountpoint -q "$MNT"
pid=$daemon_pid
check "the daemon's pid is readable from the mount root" test -n "$pid"
expect_eq "mount type" "$(findmnt -n -o FSTYPE "$MNT")" fuse.fusetape
head -c 3M /dev/urandom >"$T/a"
cp "$T/a" "$MNT/a"
check "fusetape -u" unmount_tape "$MNT"
check "not mounted after fusetape -u" bash -c "! mountpoint -q '$MNT'"
check "the daemon has exited when fusetape -u returns" gone "$pid"

# ---- busy --------------------------------------------------------------
mount_tape "$IMG" "$MNT"
check "the file written before fusetape -u is there" cmp "$T/a" "$MNT/a"
exec 7<"$MNT/a"
expect_rc 5 "fusetape -u of a busy mount fails" "$out" timeout 60 "$FT" -u "$MNT"
expect_grep "and says why" "$out" 'busy'
check "still mounted" mountpoint -q "$MNT"
echo more >"$MNT/more"
check "still usable" grep -qx more "$MNT/more"
exec 7<&-
check "fusetape -u once the file is closed" unmount_tape "$MNT"

# ---- plain umount, daemon in the foreground -----------------------------
check "fusetape -f mounts" mount_fg "$IMG" "$MNT"
fgpid=$daemon_pid
head -c 2M /dev/urandom >"$T/b"
cp "$T/b" "$MNT/b"
g0=$(gen)
check "umount" timeout 30 umount "$MNT"
if wait_gone "$fgpid" 120; then
	ok "the daemon exits after umount"
else
	not_ok "the daemon exits after umount"
	kill -9 "$fgpid"
fi
rc=0; wait "$fgpid" || rc=$?
expect_eq "the daemon's exit status after umount (index written)" "$rc" 0
DIAG_LINES=20 diag <"$T/daemon.log"
mount_tape "$IMG" "$MNT"
check "what was written before umount is there" cmp "$T/b" "$MNT/b"
g1=$(gen)
if [ -n "$g0" ] && [ -n "$g1" ] && [ "$g1" -gt "$g0" ]; then
	ok "umount wrote a new index generation ($g0 -> $g1)"
else
	not_ok "umount wrote a new index generation: '$g0' -> '$g1'"
fi
unmount_tape "$MNT"

# ---- SIGTERM -----------------------------------------------------------
check "fusetape -f mounts" mount_fg "$IMG" "$MNT"
fgpid=$daemon_pid
head -c 1M /dev/urandom >"$T/c"
cp "$T/c" "$MNT/c"
kill -TERM "$fgpid"
if wait_gone "$fgpid" 120; then ok "SIGTERM ends the daemon"; else not_ok "SIGTERM ends the daemon"; kill -9 "$fgpid"; fi
rc=0; wait "$fgpid" || rc=$?
expect_eq "its exit status after SIGTERM (index written)" "$rc" 0
check "not mounted after SIGTERM" bash -c "! mountpoint -q '$MNT'"
mount_tape "$IMG" "$MNT"
check "what was written before SIGTERM is there" cmp "$T/c" "$MNT/c"
unmount_tape "$MNT"

# ---- periodic sync -----------------------------------------------------
mount_tape "$IMG" "$MNT" -o sync_interval=1
g0=$(gen)
echo tick >"$MNT/tick"
g1=$g0
for i in $(seq 1 50); do
	sleep 0.2
	g1=$(gen)
	[ "$g1" != "$g0" ] && break
done
if [ -n "$g0" ] && [ "$g1" -gt "$g0" ]; then
	ok "sync_interval=1 wrote an index by itself ($g0 -> $g1)"
else
	not_ok "sync_interval=1 wrote an index by itself: '$g0' -> '$g1'"
fi
sleep 2.5
expect_eq "and none while nothing changed" "$(gen)" "$g1"
unmount_tape "$MNT"

# kill -9 after a sync: what the index covered is there at the next mount
mount_fg "$IMG" "$MNT" -o sync_interval=0
head -c 1M /dev/urandom >"$T/d"
cp "$T/d" "$MNT/d"
expect_eq "fsync" "$("$PROBE" fsync "$MNT/d")" OK
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
if mount_tape "$IMG" "$MNT"; then
	ok "mounts after the daemon was killed"
	check "the fsync'ed file survived kill -9" cmp "$T/d" "$MNT/d"
	unmount_tape "$MNT"
else
	not_ok "mounts after the daemon was killed"
fi
# kill -9 in the middle of a big write: the next mount recovers, and what
# an index covered before is intact
mount_fg "$IMG" "$MNT" -o sync_interval=0
head -c 4M /dev/urandom >"$T/e"
cp "$T/e" "$MNT/e"
expect_eq "fsync before the big write" "$("$PROBE" fsync "$MNT/e")" OK
timeout 60 dd if=/dev/urandom of="$MNT/big" bs=256k count=600 status=none 2>/dev/null &
writer=$!
for i in $(seq 1 300); do	# until it is well under way
	[ "$(stat -c %s "$MNT/big" 2>/dev/null || echo 0)" -gt $((30 << 20)) ] && break
	sleep 0.02
done
still=$(kill -0 "$writer" 2>/dev/null && echo yes)
kill -9 "$daemon_pid"
expect_eq "the daemon was killed while the writer was still writing" "$still" yes
wait "$daemon_pid" 2>/dev/null
wait "$writer" 2>/dev/null
umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
if mount_tape "$IMG" "$MNT"; then
	ok "mounts after kill -9 during a write"
	check "the file synced before is intact" cmp "$T/e" "$MNT/e"
	check "and the earlier ones too" cmp "$T/d" "$MNT/d"
	echo after >"$MNT/after-crash"
	check "fusetape -u after the recovery" unmount_tape "$MNT"
	mount_tape "$IMG" "$MNT"
	expect_eq "and the volume keeps working" "$(cat "$MNT/after-crash")" after
	unmount_tape "$MNT"
else
	not_ok "mounts after kill -9 during a write"
fi

# ---- an unprivileged user (fusermount3) --------------------------------
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	U=$T/user
	mkdir -p "$U/mnt"
	chmod 755 "$T"
	new_volume "$U/t.img" 64M
	chown -R 65534:65534 "$U"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	# The build tree may be out of that user's reach (a clone under /root,
	# mode 700, on a fresh machine): then a copy of the binary is used.
	UFT=$FT
	if ! as_nobody test -x "$FT"; then
		cp "$FT" "$T/fusetape-nobody" && chmod 755 "$T/fusetape-nobody"
		UFT=$T/fusetape-nobody
	fi
	expect_rc 0 "fusetape as an unprivileged user" "$out" as_nobody timeout 60 "$UFT" "$U/t.img" "$U/mnt"
	mounts+=("$U/mnt")
	expect_eq "files belong to that user" "$(as_nobody sh -c "echo hi >'$U/mnt/x' && stat -c %u '$U/mnt/x'")" 65534
	expect_rc 0 "fusetape -u as that user (through fusermount3)" "$out" as_nobody timeout 60 "$UFT" -u "$U/mnt"
	check "not mounted" bash -c "! mountpoint -q '$U/mnt'"
	expect_rc 0 "mount again" "$out" as_nobody timeout 60 "$UFT" "$U/t.img" "$U/mnt"
	expect_eq "the file is there" "$(as_nobody cat "$U/mnt/x")" hi
	expect_rc 5 "another user may not unmount it with -u" "$out" \
		setpriv --reuid=65533 --regid=65533 --clear-groups timeout 60 "$UFT" -u "$U/mnt"
	expect_grep "and is told why" "$out" 'as the user who mounted it'
	check "still mounted" bash -c "findmnt -n '$U/mnt' >/dev/null"
	expect_rc 0 "fusetape -u as the owner" "$out" as_nobody timeout 60 "$UFT" -u "$U/mnt"
	check "not mounted" bash -c "! findmnt -n '$U/mnt' >/dev/null"
else
	ok "unprivileged user # SKIP needs root and setpriv"
fi

# ---- the index cannot be written: said so, nonzero exit ----------------
# The image lives on a 24 MiB tmpfs, so the host file system fills up under
# the tape; -u refuses to unmount (still mounted, data still in memory),
# a plain umount then ends the daemon with status 1 and a message.
SMALL=$T/small
mkdir -p "$SMALL"
if mount -t tmpfs -o size=24M tmpfs "$SMALL" 2>/dev/null; then
	cleanup_hooks+=("umount '$SMALL'")
	new_volume "$SMALL/t.img" 256M
	if mount_fg "$SMALL/t.img" "$MNT" -o sync_interval=0; then
		head -c 30M /dev/urandom >"$MNT/big" 2>/dev/null
		expect_rc 1 "fusetape -u when the index cannot be written" "$out" timeout 60 "$FT" -u "$MNT"
		expect_grep "and says so" "$out" 'index could not be written'
		check "still mounted" mountpoint -q "$MNT"
		check "umount" timeout 30 umount "$MNT"
		if wait_gone "$daemon_pid" 60; then
			rc=0; wait "$daemon_pid" || rc=$?
			expect_eq "the daemon's exit status when the index was not written" "$rc" 1
			expect_grep "with a message" "$T/daemon.log" 'index was NOT written'
		else
			not_ok "the daemon exits after umount"
			kill -9 "$daemon_pid"
		fi
	fi
else
	ok "index write failure # SKIP cannot mount a tmpfs here"
fi
done_testing
