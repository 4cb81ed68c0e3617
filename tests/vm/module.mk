# tests/vm: the QEMU + tgt regression rig.  tests/vm/run builds its own
# guest programs (static, into build/vm/) from tests/vm/guest/*.c, so nothing
# here feeds the normal build; `make vm-check` runs the rig alone.
.PHONY: vm-check
vm-check:
	$(MAKE) VARIANT=rel user
	tests/vm/run
