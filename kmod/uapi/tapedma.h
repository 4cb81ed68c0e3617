/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tapedma.h - user-space interface of tapedma.ko, the pinned-page DMA path
 * to SCSI tape drives.  One character device /dev/tapedmaN per SCSI tape
 * (beside st and sg).  See tapedma(4).
 *
 * Three ways to move data, none of which copies it:
 *  1. TAPEDMA_IOC_CMD: run one SSC command; the buffer is pinned and mapped
 *     into the request (scatter-gather straight from the caller's pages).
 *     Returns the bytes transferred (>= 0) when the command ended with GOOD
 *     status; -1/EIO when it ran but ended otherwise (CHECK CONDITION,
 *     transport error: see *result, which is written in both cases);
 *     other errors mean it did not run (EINVAL, EFAULT, ENODEV, ENOMEM,
 *     EPERM), or that a fatal signal ended the wait (EINTR).  No retries:
 *     a UNIT ATTENTION comes back as EIO with its sense.
 *  2. io_uring IORING_OP_URING_CMD with cmd_op TAPEDMA_URING_CMD and the
 *     same struct tapedma_cmd as payload (needs an IORING_SETUP_SQE128 ring);
 *     with IORING_URING_CMD_FIXED, buf is an address inside the registered
 *     buffer sqe->buf_index.  Completes asynchronously; the CQE result is as
 *     for the ioctl's return value (-errno instead of -1/errno),
 *     status/resid/sense go to *result.  On a CQE32 ring, the CQE's big_cqe[0]
 *     is status | host_status << 8 | (__u64)resid << 32.
 *  3. read/write/readv/writev/splice: one call moves one variable-length
 *     record (READ(6)/WRITE(6), at most 16 MiB - 1); st-like results: 0 at
 *     a filemark (the tape is then past it) and at end of data, ENOMEM for
 *     a record longer than the buffer, ENOSPC at end of medium, EIO
 *     otherwise.  Every result other than GOOD is kept for
 *     TAPEDMA_IOC_LAST_SENSE.  UNIT ATTENTION is retried (3 times).
 * A buffer that cannot be mapped as it is (address alignment, more pages
 * than the host adapter has segments, pieces of a vector that do not join
 * at page boundaries) is refused with EINVAL; it is never bounced or split.
 */
#ifndef _UAPI_TAPEDMA_H
#define _UAPI_TAPEDMA_H

#include <linux/ioctl.h>
#include <linux/types.h>

enum tapedma_dir {
	TAPEDMA_DIR_NONE = 0,
	TAPEDMA_DIR_TO_DEVICE = 1,	/* write: data from buf to the drive */
	TAPEDMA_DIR_FROM_DEVICE = 2,	/* read: data from the drive into buf */
};

#define TAPEDMA_SENSE_MAX 96

/* Outcome of one command, written by the kernel to cmd.result. */
struct tapedma_result {
	__u8 status;		/* SCSI status byte (0 GOOD, 2 CHECK CONDITION, ...) */
	__u8 host_status;	/* host byte (DID_*), 0 if the transport was fine */
	__u8 sense_len;		/* valid bytes in sense[] */
	__u8 reserved0;
	__u32 resid;		/* bytes not transferred (from the transport or sense INFORMATION) */
	__u32 transferred;	/* bytes actually transferred */
	__u32 duration_ms;
	__u8 sense[TAPEDMA_SENSE_MAX];
};

/*
 * One SSC command.  64 bytes, so it fits an SQE128 uring_cmd payload (80).
 * flags and the reserved fields must be 0 (EINVAL otherwise, so they can
 * carry extensions later); dir is TAPEDMA_DIR_NONE exactly when len is 0.
 */
struct tapedma_cmd {
	__u8 cdb[16];
	__u8 cdb_len;		/* 6, 10, 12 or 16 */
	__u8 dir;		/* enum tapedma_dir */
	__u16 flags;		/* TAPEDMA_F_* */
	__u32 timeout_ms;	/* 0: the driver's default (see tapedma(4)) */
	__u64 buf;		/* user address of the data buffer */
	__u32 len;		/* its length in bytes */
	__u32 reserved1;
	__u64 result;		/* user address of a struct tapedma_result (may be 0) */
	__u64 reserved2[2];
};

#define TAPEDMA_F_NONE 0

/* Limits of the path to this drive, so callers never hand in what must split. */
struct tapedma_info {
	/*
	 * max_transfer: bytes in one command from a page-aligned buffer
	 * (max_segments pages, at most max_hw_sectors); a buffer that starts
	 * mid-page needs one page more.  max_segments: pages one command may
	 * span, each counted as one segment.  dma_alignment: a mask (3 on
	 * x86); the buffer address must be a multiple of dma_alignment + 1,
	 * its length may be anything.
	 */
	__u32 max_transfer;
	__u32 max_segments;
	__u32 max_segment_size;
	__u32 dma_alignment;
	__u32 host_no, channel, id, lun;
	char vendor[9], model[17], rev[5];
	__u8 reserved[33];
};

/* Counters, also in /sys/class/tapedma/tapedmaN/stats/. */
struct tapedma_stats {
	__u64 commands;
	__u64 bytes_moved;
	__u64 bytes_zero_copy;	/* bytes mapped straight from pinned pages */
	__u64 bytes_copied;	/* bytes bounced through a kernel buffer: must stay 0 */
	__u64 errors;
	__u64 pages_pinned_now;
};

#define TAPEDMA_IOC_MAGIC 0xD7
#define TAPEDMA_IOC_CMD		_IOWR(TAPEDMA_IOC_MAGIC, 1, struct tapedma_cmd)
#define TAPEDMA_IOC_INFO	_IOR(TAPEDMA_IOC_MAGIC, 2, struct tapedma_info)
#define TAPEDMA_IOC_STATS	_IOR(TAPEDMA_IOC_MAGIC, 3, struct tapedma_stats)
/*
 * Result (with sense) of the last read/write/splice on this open file that
 * did not end GOOD: filemark, end of data, short record, error.
 */
#define TAPEDMA_IOC_LAST_SENSE	_IOR(TAPEDMA_IOC_MAGIC, 4, struct tapedma_result)

/* sqe->cmd_op for IORING_OP_URING_CMD. */
#define TAPEDMA_URING_CMD	TAPEDMA_IOC_CMD

#endif /* _UAPI_TAPEDMA_H */
