#!/bin/sh
# st-driver.sh - the guest's st driver and the emulated drive do what the
# tape backends build on: variable-length records written with write(2) come
# back byte for byte from read(2) with a buffer of 1 MiB, a filemark ends a
# read with 0 bytes, and forward spacing over files and records lands where
# it should.  When this fails, fix the rig before blaming tape_st.c.
T=${FUSETAPE_TAPE:-/dev/nst0}
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
size() { wc -c <"$1" | tr -d ' '; }
# read one record with a buffer of 1 MiB (at least twice any record here)
read_record() { dd if="$T" of="$1" bs=1048576 count=1 2>/dev/null; }

head -c 100000 /dev/urandom >a
head -c 4096 /dev/urandom >b
head -c 1 /dev/urandom >c
head -c 262144 /dev/urandom >d

mt -f "$T" rewind
check $? "rewind"
dd if=a of="$T" bs=100000 2>/dev/null
check $? "write a 100000-byte record"
dd if=b of="$T" bs=4096 2>/dev/null
check $? "write a 4096-byte record"
mt -f "$T" weof 1
check $? "write a filemark"
dd if=c of="$T" bs=1 2>/dev/null
check $? "write a 1-byte record"
dd if=d of="$T" bs=262144 2>/dev/null
check $? "write a 256 KiB record"
mt -f "$T" weof 1
check $? "write a second filemark"

mt -f "$T" rewind
read_record a2
cmp -s a a2
check $? "first record reads back identical ($(size a2) bytes)"
read_record b2
cmp -s b b2
check $? "second record reads back identical ($(size b2) bytes)"
read_record fm
check "$([ -f fm ] && [ "$(size fm)" = 0 ] && echo 0 || echo 1)" "reading at a filemark returns 0 bytes"
read_record c2
cmp -s c c2
check $? "1-byte record after the filemark reads back identical"

mt -f "$T" rewind
mt -f "$T" fsf 1
check $? "space forward one file"
mt -f "$T" fsr 1
check $? "space forward one record"
read_record d2
cmp -s d d2
check $? "the record after fsf 1, fsr 1 is the 256 KiB one"

# Overwriting in the middle truncates: the old second file must be gone.
mt -f "$T" rewind
mt -f "$T" fsr 1
dd if=c of="$T" bs=1 2>/dev/null
check $? "overwrite the second record"
mt -f "$T" weof 1
mt -f "$T" rewind
read_record x
read_record y
cmp -s c y
check $? "the overwritten record reads back as the new data"
read_record z
check "$([ "$(size z)" = 0 ] && echo 0 || echo 1)" "a filemark follows it"
mt -f "$T" fsf 1 2>/dev/null
mt -f "$T" rewind

echo "1..$n"
[ $failed -eq 0 ]
