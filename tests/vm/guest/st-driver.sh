#!/bin/sh
# st-driver.sh - the guest's st driver and the emulated drive behave as the
# tape backends assume (tests/vm/README.md): variable-length records written
# with write(2) come back byte for byte from read(2) with a 1 MiB buffer, a
# filemark ends a read with 0 bytes, st writes a filemark when a handle that
# wrote is closed, the drive refuses records below its 4-byte minimum, and
# forward spacing over files and records lands where it should.  When this
# fails, fix the rig (or re-read what the drive does) before blaming
# tape_st.c.  Each dd is one open/close of the device.
T=${FUSETAPE_TAPE:-/dev/nst0}
. "$(dirname "$0")/lib/guest.sh"
size() { wc -c <"$1" | tr -d ' '; }
# Read one object with a 1 MiB buffer (at least twice any record here).
read_object() { dd if="$T" of="$1" bs=1048576 count=1 2>/dev/null; }
is_filemark() { [ -f "$1" ] && [ "$(size "$1")" = 0 ]; }

head -c 100000 /dev/urandom >a
head -c 4096 /dev/urandom >b
head -c 4 /dev/urandom >c
head -c 1 /dev/urandom >one

mt -f "$T" rewind
check $? "rewind"
dd if=a of="$T" bs=100000 2>/dev/null
check $? "write a 100000-byte record"
dd if=b of="$T" bs=4096 2>/dev/null
check $? "write a 4096-byte record"
dd if=c of="$T" bs=4 2>/dev/null
check $? "write a 4-byte record (the drive's minimum)"
dd if=one of="$T" bs=1 2>/dev/null
check $((! $?)) "a 1-byte record is refused (READ BLOCK LIMITS: 4 bytes minimum)"

# Expected now: a FM b FM c FM (each close after a write added a filemark;
# the refused write wrote nothing and its close added none).
mt -f "$T" rewind
read_object a2
cmp -s a a2
check $? "first record reads back identical ($(size a2) bytes)"
read_object fm1
is_filemark fm1
check $? "closing after the write left a filemark after it"
read_object b2
cmp -s b b2
check $? "second record reads back identical ($(size b2) bytes)"
read_object fm2
is_filemark fm2
check $? "... and a filemark after it"
read_object c2
cmp -s c c2
check $? "4-byte record reads back identical"
read_object fm3
is_filemark fm3
check $? "... and a filemark after it, none after the refused write"

mt -f "$T" rewind
mt -f "$T" fsf 2
check $? "space forward two files"
read_object c3
cmp -s c c3
check $? "fsf 2 from BOT lands on the third record"
mt -f "$T" rewind
mt -f "$T" fsr 1
check $? "space forward one record"
read_object fm4
is_filemark fm4
check $? "fsr 1 from BOT lands on the first filemark"

# Writing in the middle cuts the tape: after a, only c and its filemark.
mt -f "$T" rewind
mt -f "$T" fsr 1
dd if=c of="$T" bs=4 2>/dev/null
check $? "write a record right after the first one"
mt -f "$T" rewind
read_object x
cmp -s a x
check $? "the first record is untouched"
read_object y
cmp -s c y
check $? "the new record follows it"
read_object z
is_filemark z
check $? "then the filemark of its close"
mt -f "$T" rewind
mt -f "$T" fsf 1
mt -f "$T" fsr 1 2>/dev/null
check $((! $?)) "nothing after it: spacing a record there fails (end of data)"
mt -f "$T" rewind

tap_end
