# tests/vm/guest/lib/guest.sh - what the guest test scripts share (busybox
# sh).  A script sources it with
#     . "$(dirname "$0")/lib/guest.sh"
# which works in the guest (tests/vm/run copies this directory to
# /tests/lib/, next to the scripts in /tests/) and in the source tree.  It
# is not a test itself: the rig takes tests only from tests/vm/guest/*.sh,
# never from lib/.
#
# TAP: check STATUS DESCRIPTION prints one point ("TAG: " before the
# description when the script sets TAG); tap_end prints the plan and
# returns non-zero if any point failed, so it ends a script.
#
# For the filesystem scripts (fs-*): pick_device chooses the backend by the
# script's name, do_mkfs / do_mount / do_unmount run one step each as a TAP
# point and give up through finish when it fails, start_syslog catches what
# the daemon logs once it is in the background, and finish cleans up
# (on_finish, a script's own hook, then whatever is still mounted on mnt)
# and ends the script.  The mount point is always mnt/ in the test's
# directory.

B=${FUSETAPE_BIN:-/usr/local/bin}
PATH=$B:$PATH
n=0
failed=0
syslog_pid=

check() {	# check STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - ${TAG:+$TAG: }$2"
	else
		echo "not ok $n - ${TAG:+$TAG: }$2"
		failed=$((failed + 1))
	fi
}
tap_end() {	# the plan; fails if a point failed
	echo "1..$n"
	[ $failed -eq 0 ]
}
need_bins() {	# need_bins PROGRAM...: skip the whole test without them
	for p in "$@"; do
		if [ ! -x "$B/$p" ]; then
			echo "1..0 # SKIP $p not built (run make)"
			exit 0
		fi
	done
}
# logged WHAT CMD...: run CMD with its stderr in ./err, shown as comments
# "# WHAT: ..." when it fails; returns CMD's status.
logged() {
	what=$1
	shift
	"$@" 2>err
	rc=$?
	[ $rc -eq 0 ] || sed "s/^/# $what: /" err
	return $rc
}

diag() {	# diag FILE...: the files (or stdin) as TAP comments
	sed "s/^/# ${TAG:+$TAG: }/" "$@" 2>/dev/null
}
note() { echo "# ${TAG:+$TAG: }$*"; }
now() { cut -d' ' -f1 /proc/uptime; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the filesystem scripts ----------------------------------------------

# pick_device: TAG and DEV from the script's name, which is how one script
# serves both backends (fs-X-tapedma.sh is a symlink to fs-X-nst.sh):
# *tapedma* is /dev/tapedma0 (the test is skipped without it), anything
# else the st device.
pick_device() {
	case ${0##*/} in
	*tapedma*)
		TAG=tapedma DEV=${FUSETAPE_TAPEDMA:-}
		if [ -z "$DEV" ] || [ ! -c "$DEV" ]; then
			echo "1..0 # SKIP no /dev/tapedma0 (tapedma.ko not built or not loaded)"
			exit 0
		fi ;;
	*)	TAG=nst DEV=${FUSETAPE_TAPE:-/dev/nst0} ;;
	esac
}

is_mounted() { grep -q " $PWD/mnt fuse" /proc/mounts; }

# What the daemon logs once it is in the background goes to syslog: catch
# it (busybox syslogd), it is the only word from the daemon about trouble
# after the mount.  show_syslog prints what came since the last call.
start_syslog() {
	rm -f /dev/log
	syslogd -n -O "$PWD/syslog" 2>/dev/null &
	syslog_pid=$!
	i=0
	while [ ! -S /dev/log ] && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
show_syslog() {
	[ -n "$syslog_pid" ] || return 0
	grep -v 'syslogd started' syslog >syslog.new 2>/dev/null
	: >syslog
	[ -s syslog.new ] || return 0
	note "daemon syslog:"
	diag syslog.new
}
stop_syslog() {
	[ -n "$syslog_pid" ] && kill "$syslog_pid" 2>/dev/null && wait "$syslog_pid" 2>/dev/null
	syslog_pid=
}

# unmount_left: whatever is still mounted on mnt goes, by fusetape -u or,
# if that does not work, lazily.
unmount_left() {
	if is_mounted; then
		timeout 120 fusetape -u mnt >/dev/null 2>&1 || umount -l mnt 2>/dev/null
	fi
}
on_finish() { :; }	# a script's own clean-up; it may redefine this
finish() {	# clean up and end the script with the plan
	on_finish
	unmount_left
	show_syslog
	stop_syslog
	tap_end
	exit
}

do_mkfs() {	# do_mkfs [MKFS-OPTION...]: a single-partition volume on DEV
	t0=$(now)
	mkfs.fusetape -f --single-partition "$@" "$DEV" >mkfs.out 2>&1
	rc=$?
	diag mkfs.out
	note "mkfs took $(secs_since "$t0") s"
	check $rc "mkfs.fusetape --single-partition $DEV"
	[ $rc -eq 0 ] || finish
}
do_mount() {	# do_mount DESCRIPTION [DEVICE [OPTIONS]]: mount on mnt
	t0=$(now)
	timeout 120 fusetape "${2:-$DEV}" mnt ${3:+-o "$3"} >mount.out 2>&1
	rc=$?
	diag mount.out
	[ $rc -eq 0 ] && is_mounted
	rc=$?
	note "mount: $(grep " $PWD/mnt " /proc/mounts) ($(secs_since "$t0") s)"
	check $rc "$1"
	show_syslog
	[ $rc -eq 0 ] || finish
}
do_unmount() {	# do_unmount DESCRIPTION: fusetape -u mnt
	t0=$(now)
	timeout 120 fusetape -u mnt >umount.out 2>&1
	rc=$?
	diag umount.out
	note "fusetape -u exited $rc after $(secs_since "$t0") s"
	if is_mounted; then
		note "still mounted after fusetape -u"
		rc=1
	fi
	check $rc "$1"
	show_syslog
	[ $rc -eq 0 ] || finish
}
# cmp_list DIR <NAMES: each DIR/NAME (one a line) against mnt/NAME, byte
# for byte; the first five differences as comments.  Sets nfiles (how many
# were compared) and fails if any differs.  Read from a file, not a pipe:
# a function at the end of a pipe runs in a subshell and nfiles is lost.
cmp_list() {
	bad=0 nfiles=0
	while IFS= read -r p; do
		nfiles=$((nfiles + 1))
		if ! cmp "$1/$p" mnt/"$p" >cmp.out 2>&1; then
			bad=$((bad + 1))
			[ $bad -le 5 ] && diag cmp.out
		fi
	done
	[ $bad -eq 0 ] || note "$bad of $nfiles files differ"
	[ $bad -eq 0 ]
}
