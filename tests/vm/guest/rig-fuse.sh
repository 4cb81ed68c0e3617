#!/bin/sh
# rig-fuse.sh - the guest can run the project's dynamically linked binaries
# and mount FUSE filesystems: a fusetape volume on a virtual tape image in
# tmpfs is made, mounted, filled, unmounted and mounted again.  If this
# fails, tests that mount fusetape on the drive cannot work either.
B=${FUSETAPE_BIN:-/usr/local/bin}
n=0
failed=0
check() {	# check STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
for p in mkfs.fusetape fusetape; do
	if [ ! -x "$B/$p" ]; then
		echo "1..0 # SKIP $p not built (run make)"
		exit 0
	fi
done
[ -c /dev/fuse ]
check $? "/dev/fuse exists"
mkdir -p mnt
head -c 2000000 /dev/urandom >data

"$B/mkfs.fusetape" -q --image-size 64M -n rigvol tape.img 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# mkfs: /' err
check $rc "mkfs.fusetape on a 64 MiB image"
"$B/fusetape" tape.img mnt 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# fusetape: /' err
check $rc "fusetape mounts it"
[ $rc -eq 0 ] || { echo "1..$n"; exit 1; }
cp data mnt/data
check $? "copy a file in"
"$B/fusetape" -u mnt 2>err
rc=$?
[ $rc -eq 0 ] || sed 's/^/# fusetape -u: /' err
check $rc "unmount"
"$B/fusetape" tape.img mnt 2>err
check $? "mount again"
cmp -s data mnt/data
check $? "the file survived the remount"
"$B/fusetape" -u mnt 2>err
check $? "unmount"
echo "1..$n"
[ $failed -eq 0 ]
