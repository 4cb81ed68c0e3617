# fs-lib.sh - shared by the fs-*.sh host tests of the FUSE daemon (sourced,
# not run).  TAP output; binaries from $FUSETAPE_BIN (default build/san/bin);
# a scratch directory under /tmp; every mount is undone on exit, however
# the test ends.
set -u
cd "$(dirname "$0")/../.."
BIN=${FUSETAPE_BIN:-$PWD/build/san/bin}
FT=$BIN/fusetape
MKFS=$BIN/mkfs.fusetape
IMGTOOL=$BIN/fusetape-image
PROBE=$BIN/../testbin/fs-probe		# built by "make tests"
[ -x "$PROBE" ] || PROBE=$PWD/build/san/testbin/fs-probe
T=$(mktemp -d /tmp/fusetape-fs.XXXXXX)
# Sanitizer reports of daemonized processes (whose stderr is /dev/null)
# land in files; check_sanitizers turns any into a failure.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=23}:log_path=$T/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=24}:log_path=$T/sanitizer"
n=0 failed=0
mounts=()
cleanup_hooks=()	# commands run after the FUSE mounts are gone

# Watchdog: a daemon that hangs leaves every process touching the mount
# blocked in the kernel, where no timeout(1) reaches it; killing the
# daemons aborts their FUSE connections, those calls fail, and the test
# ends through its EXIT trap.  FS_TIMEOUT seconds for the whole test.
: >"$T/daemons"
(
	trap 'kill $s 2>/dev/null; exit 0' TERM
	sleep "${FS_TIMEOUT:-900}" & s=$!
	wait $s
	echo "not ok - $(basename "$0"): timed out after ${FS_TIMEOUT:-900} s"
	while read -r p; do	# only if the pid is still one of our daemons
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = fusetape ] && kill -9 "$p"
	done <"$T/daemons"
	kill -TERM $$
) &
watchdog_pid=$!

_cleanup() {
	local m pid
	kill "$watchdog_pid" 2>/dev/null
	for m in "${mounts[@]}"; do
		# findmnt, not mountpoint: root cannot stat another user's FUSE mount
		if findmnt -n "$m" >/dev/null 2>&1; then
			pid=$(getfattr --only-values -n user.fusetape.pid "$m" 2>/dev/null)
			timeout 20 umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
				fusermount3 -u -z "$m" 2>/dev/null
			[ -n "$pid" ] && ! wait_gone "$pid" 20 && kill -9 "$pid" 2>/dev/null
		fi
	done
	for m in "${cleanup_hooks[@]}"; do eval "$m" || true; done
	rm -rf "$T"
}
trap _cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag() { sed 's/^/#   /' | head -${DIAG_LINES:-40}; }
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# expect_rc WANT WHAT OUTFILE CMD...: exit status of CMD (stdout+stderr to OUTFILE)
expect_rc() {
	local want=$1 what=$2 out=$3; shift 3
	rc=0
	"$@" >"$out" 2>&1 </dev/null || rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$what (exit $rc)"
	else
		not_ok "$what: exit $rc, want $want"
		diag <"$out"
	fi
}
# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}
# expect_grep WHAT FILE REGEX
expect_grep() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else not_ok "$1: no /$3/ in output"; diag <"$2"; fi
}
# expect_same WHAT FILE1 FILE2: identical text, else the diff
expect_same() {
	if diff -u "$2" "$3" >"$T/diff.out" 2>&1; then
		ok "$1"
	else
		not_ok "$1"
		diag <"$T/diff.out"
	fi
}
done_testing() {
	check_sanitizers
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
check_sanitizers() {
	local f
	for f in "$T"/sanitizer*; do
		[ -e "$f" ] || continue
		not_ok "sanitizer report $(basename "$f")"
		diag <"$f"
		rm -f "$f"
	done
}

require_fuse() {
	local b
	if [ ! -c /dev/fuse ]; then
		echo "1..0 # SKIP /dev/fuse is missing"
		exit 77
	fi
	for b in "$FT" "$MKFS" "$IMGTOOL" "$PROBE"; do
		if [ ! -x "$b" ]; then
			echo "not ok 1 - $b is not built (make VARIANT=san user tests)"
			echo "1..1"
			exit 1
		fi
	done
}

# new_volume IMG SIZE [mkfs options]: a fresh LTFS volume in an image file
new_volume() {
	local img=$1 size=$2; shift 2
	rm -f "$img"
	timeout 60 "$MKFS" -q --image-size "$size" "$@" "$img" >"$T/mkfs.out" 2>&1 || {
		echo "# mkfs.fusetape failed:"
		diag <"$T/mkfs.out"
		return 1
	}
}

# mount_tape IMG MNT [fusetape options]: mount the default way (daemonized);
# the daemon's pid in $daemon_pid.  Returns fusetape's exit status.
mount_tape() {
	local img=$1 mnt=$2 rc=0; shift 2
	mkdir -p "$mnt"
	timeout 60 "$FT" "$img" "$mnt" "$@" >"$T/mount.out" 2>&1 </dev/null || rc=$?
	if [ $rc -ne 0 ]; then
		echo "# fusetape $img $mnt $* failed with $rc:"
		diag <"$T/mount.out"
		return $rc
	fi
	mounts+=("$mnt")
	daemon_pid=$(timeout 30 getfattr --only-values -n user.fusetape.pid "$mnt" 2>/dev/null)
	echo "$daemon_pid" >>"$T/daemons"
	return 0
}

# mount_fg IMG MNT [options]: run the daemon with -f in the background, its
# output in $T/daemon.log; $daemon_pid is its pid (a child of this shell,
# so "wait $daemon_pid" gives its exit status).  Waits until mounted.
mount_fg() {
	local img=$1 mnt=$2 i; shift 2
	mkdir -p "$mnt"
	"$FT" "$img" "$mnt" -f "$@" >"$T/daemon.log" 2>&1 </dev/null &
	daemon_pid=$!
	echo "$daemon_pid" >>"$T/daemons"
	mounts+=("$mnt")
	for i in $(seq 1 200); do
		if getfattr -n user.fusetape.pid "$mnt" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "# fusetape -f did not mount:"
	diag <"$T/daemon.log"
	return 1
}

# unmount_tape MNT: the documented safe way; returns its exit status
unmount_tape() {
	local rc=0
	timeout 300 "$FT" -u "$1" >"$T/umount.out" 2>&1 </dev/null || rc=$?
	if [ $rc -ne 0 ]; then
		echo "# fusetape -u $1 failed with $rc:"
		diag <"$T/umount.out"
	fi
	return $rc
}

# gone PID: the process has exited (a zombie counts: it has closed its
# files, and here nobody may reap daemonized orphans)
gone() {
	! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]
}
# wait_gone PID [SECONDS]: true when the process has exited in time
wait_gone() {
	local i
	for i in $(seq 1 $((${2:-60} * 10))); do
		gone "$1" && return 0
		sleep 0.1
	done
	return 1
}

# listing DIR: one line per node, sorted: path, type, size (files and
# symlinks), mtime with nanoseconds, symlink target
listing() {
	(cd "$1" && find . -mindepth 1 \
		\( -type d -printf '%P d %T@\n' \) -o \
		\( -type l -printf '%P l %s %T@ -> %l\n' \) -o \
		\( -type f -printf '%P f %s %T@\n' \) -o -printf '%P ? %y\n') | LC_ALL=C sort
}
# listing_nodirtimes DIR: as listing, without directory mtimes
listing_nodirtimes() {
	(cd "$1" && find . -mindepth 1 \
		\( -type d -printf '%P d\n' \) -o \
		\( -type l -printf '%P l %s %T@ -> %l\n' \) -o \
		\( -type f -printf '%P f %s %T@\n' \) -o -printf '%P ? %y\n') | LC_ALL=C sort
}
# xattrs DIR: every user.* attribute of every node, sorted
xattrs() {
	(cd "$1" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		xargs -0 -r getfattr -h -d -m '^user\.' -e hex 2>/dev/null |
		awk '/^# file: /{f=substr($0,9); next} /^$/{next} {print f" "$0}' |
		LC_ALL=C sort)
}
# stat_of NAME [MNT]: the value of the line "NAME: value" of the daemon's
# user.fusetape.stats on MNT (default $MNT), empty if there is none
stat_of() {
	getfattr --only-values -n user.fusetape.stats "${2:-$MNT}" 2>/dev/null |
		sed -n "s/^$1: //p"
}
# same_files DIR1 DIR2: cmp of every regular file of DIR1 with DIR2's
same_files() {
	local f bad=0
	while IFS= read -r -d '' f; do
		if ! cmp -s "$1/$f" "$2/$f"; then
			echo "# differs: $f"
			bad=1
		fi
	done < <(cd "$1" && find . -type f -printf '%P\0')
	return $bad
}
