# Unit tests: one TAP program each, built into $(B)/tests/ and run by
# tests/run-all.  Append your own with "TESTS += name" and "name_SRCS := ...".
TESTS += test_tape_image
test_tape_image_SRCS := tests/unit/test_tape_image.c
TESTS += test_ssc
test_ssc_SRCS := tests/unit/test_ssc.c

# LTFS core (lib/ltfs): on-tape structures, data path, recovery.
TESTS += test_ltfs_core
test_ltfs_core_SRCS := tests/unit/test_ltfs_core.c
TESTS += test_ltfs_data
test_ltfs_data_SRCS := tests/unit/test_ltfs_data.c
TESTS += test_ltfs_recovery
test_ltfs_recovery_SRCS := tests/unit/test_ltfs_recovery.c
TESTS += test_ltfs_zerocopy
test_ltfs_zerocopy_SRCS := tests/unit/test_ltfs_zerocopy.c
TESTS += test_tape_st
test_tape_st_SRCS := tests/unit/test_tape_st.c
# Write-behind (tape_write_queued) on the image backend and the synchronous fallback.
TESTS += test_tape_queue
test_tape_queue_SRCS := tests/unit/test_tape_queue.c
# The image backend's verification window (tape_image_verify_record()).
TESTS += test_image_window
test_image_window_SRCS := tests/unit/test_image_window.c
