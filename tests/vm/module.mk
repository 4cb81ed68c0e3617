# tests/vm: the QEMU + tgt regression rig.  tests/vm/run builds its own
# guest programs (static, into build/vm/) from tests/vm/guest/*.c, so nothing
# here feeds the normal build; `make vm-check` builds build/rel (programs
# and tapedma.ko) and runs the rig alone.
.PHONY: vm-check
vm-check:
	$(MAKE) VARIANT=rel all
	tests/vm/run
