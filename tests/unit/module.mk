# Unit tests: one TAP program each, built into $(B)/tests/ and run by
# tests/run-all.  Append your own with "TESTS += name" and "name_SRCS := ...".
TESTS += test_tape_image
test_tape_image_SRCS := tests/unit/test_tape_image.c
