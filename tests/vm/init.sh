#!/bin/sh
# /init of the fusetape test VM (busybox sh, PID 1).  tests/vm/run builds the
# initramfs around it.
#
# The guest has three serial ports: ttyS0 is the console (kernel messages,
# this script's chatter, saved as build/vm/console.log), ttyS1 carries only
# what the host parses: "@@" control lines and the output of the tests, each
# test between "@@BEGIN name" and "@@END name rc".  Keeping kernel messages
# off ttyS1 is what keeps TAP lines whole.  ttyS2 brings the host's answers
# (to "@@NEWTAPE": "ok" once a blank tape is loaded).
#
# Files the host puts in the initramfs:
#   /lib/modules/order        kernel modules to insmod, dependencies first
#   /lib/modules/extra/*.ko   out-of-tree modules (tapedma.ko), loaded last
#   /tests/LIST               "name command..." per line, in run order
#   /tests/CONFIG             shell variables (TEST_TIMEOUT)
export PATH=/usr/local/bin:/bin
export HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
exec </dev/console >/dev/console 2>&1

R=/dev/ttyS1
A=/dev/ttyS2	# the host's answers
stty -F $R raw -echo 2>/dev/null
stty -F $A raw -echo 2>/dev/null
# Kept open: a serial port nobody has open drops what arrives, and the
# host may answer before a fresh open of it.
exec 3<$A
tested=
TEST_TIMEOUT=300
. /tests/CONFIG

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() {
	echo "$*" >$R
	echo "init: $*"
}
finish() {
	echo "init: kernel log follows"
	dmesg
	say "@@DONE $(uptime_s)"
	sync
	poweroff -f
	sleep 10	# poweroff -f does not return; never let PID 1 exit
}

say "@@BOOT $(uptime_s)"
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/"$m" || say "@@MODFAIL $m"
done

# The SCSI scan of the iSCSI LU is asynchronous.
i=0
while [ ! -c /dev/nst0 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ ! -c /dev/nst0 ]; then
	say "@@NOTAPE no /dev/nst0 after 30 s"
	finish
fi
export FUSETAPE_TAPE=/dev/nst0
export FUSETAPE_BIN=/usr/local/bin

have_tapedma=0
for ko in /lib/modules/extra/*.ko; do
	[ -f "$ko" ] || continue
	if insmod "$ko"; then
		say "@@MODLOADED ${ko##*/}"
	else
		say "@@MODFAIL ${ko##*/}"
	fi
done
if [ -f /lib/modules/extra/tapedma.ko ]; then
	i=0
	while [ ! -c /dev/tapedma0 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -c /dev/tapedma0 ]; then
		have_tapedma=1
		export FUSETAPE_TAPEDMA=/dev/tapedma0
	else
		say "@@NOTAPEDMA no /dev/tapedma0 after 10 s"
	fi
fi
say "@@READY $(uptime_s)"

if grep -q fusetape.shell /proc/cmdline; then
	echo "init: tests are in /tests (list: /tests/LIST), the drive is $FUSETAPE_TAPE"
	(cd /tmp && setsid cttyhack sh -l)
	finish
fi

# Processes a test left behind that still hold the drive would make the next
# test's open() fail with EBUSY: kill them, and fail the test that left them
# (the lines land inside its BEGIN/END section).
kill_tape_holders() {
	sleep 0.3	# let a straggler finish opening the drive, so it is seen
	for fd in /proc/[0-9]*/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		/dev/nst*|/dev/st*|/dev/sg*|/dev/tapedma*)
			pid=${fd#/proc/}
			pid=${pid%%/*}
			[ "$pid" = $$ ] && continue
			echo "not ok 1 - rig: the test left pid $pid ($(cat /proc/$pid/comm 2>/dev/null)) holding $(readlink "$fd"): killed" >$R
			kill -9 "$pid" 2>/dev/null
			;;
		esac
	done
	for mnt in $(awk '$3 ~ /^fuse/ { print $2 }' /proc/mounts); do
		echo "not ok 1 - rig: the test left $mnt mounted: unmounted" >$R
		umount -l "$mnt"
	done
}

while read -r name cmd; do
	[ -n "$name" ] || continue
	case $name in
	tapedma-*)
		if [ $have_tapedma = 0 ]; then
			say "@@BEGIN $name"
			say "not ok 1 - tapedma.ko is in the initramfs but /dev/tapedma0 did not appear (see console log)"
			say "@@END $name 1"
			continue
		fi
		;;
	esac
	# Every test gets a blank tape (the host swaps the LU's backing file
	# when asked on ttyS1 and answers on ttyS2; the first test has the
	# tape the VM booted with), at its beginning, in variable-block mode.
	if [ -n "$tested" ]; then
		say "@@NEWTAPE $name"
		ack=
		read -r -t 30 ack <&3
		[ "$ack" = ok ] || echo "# rig: no fresh tape for $name (host said '$ack'): the last test's is still loaded" >$R
	fi
	tested=1
	mt -f /dev/nst0 setblk 0 || echo "# rig: mt setblk 0 failed" >$R
	mt -f /dev/nst0 rewind || echo "# rig: mt rewind failed" >$R
	dir=/tmp/run/$name
	mkdir -p "$dir"
	say "@@BEGIN $name $(uptime_s)"
	# Output goes straight to the serial port, not through a pipe: a daemon
	# a test forgets in the background cannot block the rig.
	(cd "$dir" && exec timeout -s KILL "$TEST_TIMEOUT" $cmd) >$R 2>&1 </dev/null 3<&-
	rc=$?
	kill_tape_holders
	say "@@END $name $rc $(uptime_s)"
	rm -rf "$dir"
done </tests/LIST

# A test that trips a kernel warning has failed even if its checks passed.
dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace|UBSAN|KASAN|list_del corruption|refcount_t' |
	while read -r line; do say "@@KERNEL $line"; done
finish
