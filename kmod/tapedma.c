// SPDX-License-Identifier: GPL-2.0
/*
 * tapedma - zero-copy access to SCSI tape drives.
 *
 * Every SCSI device of type TYPE_TAPE gets a character device /dev/tapedmaN
 * beside st and sg.  Data never passes through a kernel buffer: the caller's
 * pages (pinned user memory, pipe pages, io_uring registered buffers) are
 * handed to the block layer through struct rq_map_data with null_mapped set,
 * the recipe st.c uses for its direct I/O.  That path never bounces in 6.1,
 * unlike blk_rq_map_user_iov() on ITER_UBUF or ITER_PIPE iterators.
 *
 * User interface: kmod/uapi/tapedma.h and tapedma(4).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/fs.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uio.h>
#include <linux/bvec.h>
#include <linux/splice.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/io_uring.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>
#include <linux/capability.h>
#include <linux/compat.h>
#include <asm/unaligned.h>
#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_driver.h>
#include <scsi/scsi_eh.h>
#include <scsi/scsi_common.h>

#include "uapi/tapedma.h"

#define TAPEDMA_VERSION		"0.1"
#define TAPEDMA_MAX_DEVS	256
/* st's defaults: 15 minutes for data, almost 4 hours for positioning. */
#define TAPEDMA_IO_TIMEOUT	(900 * HZ)
#define TAPEDMA_LONG_TIMEOUT	(14000 * HZ)
/* A UNIT ATTENTION means "not executed"; a few retries cover a reset storm. */
#define TAPEDMA_UA_RETRIES	3
/* READ(6)/WRITE(6) carry a 24-bit transfer length. */
#define TAPEDMA_RW_MAX		0xffffffU

struct tapedma_dev {
	struct kref kref;
	struct scsi_device *sdev;	/* valid while an open file holds it */
	struct device *dev;
	struct cdev *cdev;
	struct list_head node;
	int index;
	bool detached;			/* the SCSI device went away */

	atomic64_t commands;
	atomic64_t bytes_moved;
	atomic64_t bytes_zero_copy;
	atomic64_t bytes_copied;
	atomic64_t errors;
	atomic64_t pages_pinned_now;
};

/* Per open file: read/write state that st keeps per device. */
struct tapedma_file {
	struct tapedma_dev *td;
	struct mutex lock;		/* serialises read/write on this file */
	bool eom_pending;		/* early warning seen: next write ENOSPC */
	struct tapedma_result last;	/* last read/write that was not GOOD */
};

/* How the pages of one command are held, and so how to let them go. */
enum tapedma_hold {
	TAPEDMA_HOLD_NONE,
	TAPEDMA_HOLD_PIN,	/* pin_user_pages_fast: unpin, dirty if read */
	TAPEDMA_HOLD_REF,	/* get_page (pipe, splice bvec): put_page */
	TAPEDMA_HOLD_BORROW,	/* io_uring registered buffer: io_uring owns it */
};

/*
 * One command in flight.  Owned by the submitter until blk_execute_rq_nowait;
 * afterwards end_io decides who releases it: the waiter (normal case), a
 * worker (the waiter was killed, so the pages must outlive it until the HBA
 * is done with them), or io_uring task work (uring_cmd).
 */
struct tapedma_io {
	struct tapedma_dev *td;
	spinlock_t lock;		/* completed/abandoned handshake */
	struct completion done;
	bool completed;
	bool abandoned;
	bool in_flight;			/* counted in tapedma_inflight */
	struct work_struct release_work;
	struct io_uring_cmd *ioucmd;
	u64 uresult;			/* uring_cmd: user struct tapedma_result */

	bool to_dev;
	bool variable_rw;		/* READ(6)/WRITE(6), variable blocks */
	u32 len;
	struct bio *bio;		/* head of the mapped bios, for unmap */
	struct page **pages;
	unsigned int nr_pages;
	unsigned long first_off;	/* offset of the data in pages[0] */
	enum tapedma_hold hold;

	unsigned long start;
	/* filled by end_io */
	unsigned int duration_ms;
	int scsi_result;
	blk_status_t blk_status;
	unsigned int resid;
	u8 sense_len;
	u8 sense[SCSI_SENSE_BUFFERSIZE];
};

struct tapedma_sense {
	struct scsi_sense_hdr hdr;
	bool valid;
	bool filemark;
	bool eom;
	bool ili;
	bool info_valid;
	s64 info;
};

static DEFINE_MUTEX(tapedma_lock);	/* tapedma_devs and tapedma_idr */
static LIST_HEAD(tapedma_devs);
static DEFINE_IDR(tapedma_idr);
static dev_t tapedma_devt;
static struct class *tapedma_class;
static struct workqueue_struct *tapedma_wq;
static atomic_t tapedma_inflight = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(tapedma_inflight_wq);

static void tapedma_dev_release(struct kref *kref)
{
	kfree(container_of(kref, struct tapedma_dev, kref));
}

/* ---- limits of the path to the drive ---- */

static unsigned long tapedma_dma_mask(struct request_queue *q)
{
	return queue_dma_alignment(q) | q->dma_pad_mask;
}

/*
 * Pages one command may span.  Every page is counted as its own segment
 * (pages of user memory rarely merge, and iscsi_tcp's PAGE_SIZE-1 boundary
 * forbids it), and rq_map_data counts pages in an unsigned short.
 */
static unsigned int tapedma_max_pages(struct request_queue *q)
{
	unsigned int seg_size = queue_max_segment_size(q);
	unsigned long boundary = queue_segment_boundary(q);
	unsigned int per_page = 1;

	if (seg_size < PAGE_SIZE)
		per_page = DIV_ROUND_UP(PAGE_SIZE, seg_size);
	if (boundary < PAGE_SIZE - 1)
		per_page = max_t(unsigned int, per_page,
				 PAGE_SIZE / (boundary + 1));
	return min_t(unsigned int, queue_max_segments(q) / per_page, USHRT_MAX);
}

static u64 tapedma_max_bytes(struct request_queue *q)
{
	return (u64)queue_max_hw_sectors(q) << SECTOR_SHIFT;
}

static u32 tapedma_max_transfer(struct request_queue *q)
{
	u64 bytes = (u64)tapedma_max_pages(q) << PAGE_SHIFT;

	return min3(bytes, tapedma_max_bytes(q), (u64)U32_MAX);
}

static int tapedma_check_limits(struct tapedma_io *io)
{
	struct request_queue *q = io->td->sdev->request_queue;

	/* like st: the address must suit the HBA's DMA, the length only its padding */
	if ((io->first_off & tapedma_dma_mask(q)) || (io->len & q->dma_pad_mask)) {
		pr_debug("tapedma%d: buffer offset %lu length %u not aligned to %lu\n",
			 io->td->index, io->first_off, io->len,
			 tapedma_dma_mask(q) + 1);
		return -EINVAL;
	}
	if (io->nr_pages > tapedma_max_pages(q)) {
		pr_debug("tapedma%d: %u pages exceed the %u segments of the host\n",
			 io->td->index, io->nr_pages, tapedma_max_pages(q));
		return -EINVAL;
	}
	if (io->len > tapedma_max_bytes(q)) {
		pr_debug("tapedma%d: %u bytes exceed max_hw_sectors\n",
			 io->td->index, io->len);
		return -EINVAL;
	}
	return 0;
}

/* ---- collecting the pages of a buffer ---- */

/*
 * rq_map_data describes one run of pages: data starts at an offset in the
 * first page and fills every later page from its start.  A vector whose
 * pieces do not join at page boundaries cannot be expressed that way and is
 * refused rather than bounced.
 */
struct tapedma_chain {
	unsigned int pieces;
	unsigned int pages;
	unsigned long first_off;
	unsigned long last_end;		/* offset in page where the last piece ended */
};

static int tapedma_chain_add(struct tapedma_chain *c, unsigned long off,
			     size_t n, int index)
{
	off &= ~PAGE_MASK;
	if (c->pieces) {
		if (off || c->last_end) {
			pr_debug("tapedma%d: vector pieces do not join at page boundaries\n",
				 index);
			return -EINVAL;
		}
	} else {
		c->first_off = off;
	}
	c->pieces++;
	c->pages += DIV_ROUND_UP(off + n, PAGE_SIZE);
	c->last_end = (off + n) & ~PAGE_MASK;
	return 0;
}

static void tapedma_hold_pages(struct tapedma_io *io, struct page **pages,
			       const struct tapedma_chain *c,
			       enum tapedma_hold hold)
{
	io->pages = pages;
	io->nr_pages = c->pages;
	io->first_off = c->first_off;
	io->hold = hold;
	if (hold != TAPEDMA_HOLD_BORROW)
		atomic64_add(c->pages, &io->td->pages_pinned_now);
}

/* User memory (ITER_UBUF, ITER_IOVEC): pin every page, FOLL_WRITE for reads. */
static int tapedma_pin_user(struct tapedma_io *io, const struct iov_iter *iter)
{
	const struct iovec *iov;
	struct iovec one;
	struct tapedma_chain c = { };
	struct page **pages;
	size_t skip = iter->iov_offset, left;
	unsigned int gup = io->to_dev ? 0 : FOLL_WRITE;
	unsigned int idx = 0;
	int ret;

	if (iter_is_ubuf(iter)) {
		one.iov_base = iter->ubuf;
		one.iov_len = iter->iov_offset + iter->count;
		iov = &one;
	} else {
		iov = iter->iov;
	}

	for (left = io->len; left; iov++, skip = 0) {
		size_t n = min(iov->iov_len - skip, left);

		if (!n)
			continue;
		ret = tapedma_chain_add(&c, (unsigned long)iov->iov_base + skip,
					n, io->td->index);
		if (ret)
			return ret;
		left -= n;
	}
	io->first_off = c.first_off;
	io->nr_pages = c.pages;
	ret = tapedma_check_limits(io);
	if (ret)
		return ret;

	pages = kvmalloc_array(c.pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	iov = iter_is_ubuf(iter) ? &one : iter->iov;
	skip = iter->iov_offset;
	for (left = io->len; left; iov++, skip = 0) {
		unsigned long addr = (unsigned long)iov->iov_base + skip;
		size_t n = min(iov->iov_len - skip, left);
		int want = DIV_ROUND_UP((addr & ~PAGE_MASK) + n, PAGE_SIZE);
		int got;

		if (!n)
			continue;
		got = pin_user_pages_fast(addr & PAGE_MASK, want, gup,
					  pages + idx);
		if (got != want) {
			/* a short pin means an unmapped page in the range */
			if (got > 0)
				unpin_user_pages(pages + idx, got);
			unpin_user_pages(pages, idx);
			kvfree(pages);
			return got < 0 ? got : -EFAULT;
		}
		idx += want;
		left -= n;
	}
	tapedma_hold_pages(io, pages, &c, TAPEDMA_HOLD_PIN);
	return 0;
}

/*
 * Kernel pages (ITER_BVEC): splice into the device, io_uring registered
 * buffers.  Walking only io->len bytes also trims what io_import_fixed()
 * leaves in nr_segs (all bvecs to the end of the registered buffer).
 */
static int tapedma_hold_bvec(struct tapedma_io *io, const struct iov_iter *iter,
			     enum tapedma_hold hold)
{
	const struct bio_vec *bv;
	struct tapedma_chain c = { };
	struct page **pages;
	size_t skip = iter->iov_offset, left;
	unsigned int idx = 0, i;
	int ret;

	for (bv = iter->bvec, left = io->len; left; bv++, skip = 0) {
		size_t n = min_t(size_t, bv->bv_len - skip, left);

		if (!n)
			continue;
		ret = tapedma_chain_add(&c, bv->bv_offset + skip, n,
					io->td->index);
		if (ret)
			return ret;
		left -= n;
	}
	io->first_off = c.first_off;
	io->nr_pages = c.pages;
	ret = tapedma_check_limits(io);
	if (ret)
		return ret;

	pages = kvmalloc_array(c.pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	skip = iter->iov_offset;
	for (bv = iter->bvec, left = io->len; left; bv++, skip = 0) {
		size_t off = bv->bv_offset + skip;
		size_t n = min_t(size_t, bv->bv_len - skip, left);
		struct page *first = nth_page(bv->bv_page, off >> PAGE_SHIFT);
		unsigned int np = DIV_ROUND_UP((off & ~PAGE_MASK) + n, PAGE_SIZE);

		if (!n)
			continue;
		for (i = 0; i < np; i++) {
			pages[idx] = nth_page(first, i);
			if (hold == TAPEDMA_HOLD_REF)
				get_page(pages[idx]);
			idx++;
		}
		left -= n;
	}
	tapedma_hold_pages(io, pages, &c, hold);
	return 0;
}

/*
 * splice from the device (ITER_PIPE): blk_rq_map_user_iov() would loop
 * forever on a pipe iterator in 6.1, so take fresh pipe pages and map them
 * ourselves.  The pipe is advanced by what we take; the caller reverts the
 * part the drive did not fill.  Returns the bytes taken (the pipe may have
 * room for less than asked).
 */
static ssize_t tapedma_hold_pipe(struct tapedma_io *io, struct iov_iter *iter)
{
	struct tapedma_chain c = { };
	struct page **pages = NULL;
	size_t start;
	ssize_t got;
	int ret;

	got = iov_iter_get_pages_alloc2(iter, &pages, io->len, &start);
	if (got <= 0)
		return got ? got : -EFAULT;
	c.pieces = 1;
	c.first_off = start;
	c.pages = DIV_ROUND_UP(start + got, PAGE_SIZE);
	io->len = got;
	tapedma_hold_pages(io, pages, &c, TAPEDMA_HOLD_REF);
	ret = tapedma_check_limits(io);
	if (ret) {
		iov_iter_revert(iter, got);
		return ret;
	}
	return got;
}

static void tapedma_release_pages(struct tapedma_io *io)
{
	unsigned int i;

	if (!io->pages)
		return;
	switch (io->hold) {
	case TAPEDMA_HOLD_PIN:
		unpin_user_pages_dirty_lock(io->pages, io->nr_pages, !io->to_dev);
		break;
	case TAPEDMA_HOLD_REF:
		for (i = 0; i < io->nr_pages; i++)
			put_page(io->pages[i]);
		break;
	default:
		break;
	}
	if (io->hold != TAPEDMA_HOLD_BORROW)
		atomic64_sub(io->nr_pages, &io->td->pages_pinned_now);
	kvfree(io->pages);
	io->pages = NULL;
}

/* ---- one command ---- */

static void tapedma_io_free(struct tapedma_io *io)
{
	bool in_flight = io->in_flight;

	/* null_mapped bios: frees bios and map data, never copies */
	if (io->bio)
		blk_rq_unmap_user(io->bio);
	tapedma_release_pages(io);
	kref_put(&io->td->kref, tapedma_dev_release);
	kfree(io);
	if (in_flight && atomic_dec_and_test(&tapedma_inflight))
		wake_up(&tapedma_inflight_wq);
}

static void tapedma_io_work(struct work_struct *work)
{
	tapedma_io_free(container_of(work, struct tapedma_io, release_work));
}

static struct tapedma_io *tapedma_io_alloc(struct tapedma_dev *td, bool to_dev,
					   u32 len)
{
	struct tapedma_io *io = kzalloc(sizeof(*io), GFP_KERNEL);

	if (!io)
		return NULL;
	kref_get(&td->kref);
	io->td = td;
	io->to_dev = to_dev;
	io->len = len;
	spin_lock_init(&io->lock);
	init_completion(&io->done);
	INIT_WORK(&io->release_work, tapedma_io_work);
	return io;
}

static void tapedma_uring_task_cb(struct io_uring_cmd *ioucmd,
				  unsigned int issue_flags);

static enum rq_end_io_ret tapedma_end_io(struct request *rq, blk_status_t err)
{
	struct tapedma_io *io = rq->end_io_data;
	struct scsi_cmnd *scmd = blk_mq_rq_to_pdu(rq);
	unsigned long flags;
	bool abandoned;

	io->scsi_result = scmd->result;
	io->blk_status = err;
	io->resid = scsi_get_resid(scmd);
	io->sense_len = min_t(unsigned int, scmd->sense_len,
			      SCSI_SENSE_BUFFERSIZE);
	if (io->sense_len)
		memcpy(io->sense, scmd->sense_buffer, io->sense_len);
	io->duration_ms = jiffies_to_msecs(jiffies - io->start);

	if (io->ioucmd) {
		/* unmap, unpin and copy_to_user need the submitter's context */
		io_uring_cmd_complete_in_task(io->ioucmd, tapedma_uring_task_cb);
		return RQ_END_IO_FREE;
	}

	/*
	 * complete() stays under the lock: the waiter takes the lock before it
	 * frees io, so io is not touched after the waiter may have freed it.
	 */
	spin_lock_irqsave(&io->lock, flags);
	io->completed = true;
	abandoned = io->abandoned;
	if (!abandoned)
		complete(&io->done);
	spin_unlock_irqrestore(&io->lock, flags);
	if (abandoned)
		queue_work(tapedma_wq, &io->release_work);
	return RQ_END_IO_FREE;
}

static unsigned int tapedma_default_timeout(u8 opcode)
{
	switch (opcode) {
	case 0x01:		/* REWIND */
	case FORMAT_UNIT:
	case ERASE:
	case START_STOP:	/* LOAD UNLOAD */
	case SPACE:
	case 0x91:		/* SPACE(16) */
	case 0x2b:		/* LOCATE(10) */
	case 0x92:		/* LOCATE(16) */
	case WRITE_FILEMARKS:
		return TAPEDMA_LONG_TIMEOUT;
	default:
		return TAPEDMA_IO_TIMEOUT;
	}
}

/*
 * Map io's pages into a new request and start it.  On failure nothing is
 * in flight and the caller still owns io.
 */
static int tapedma_submit(struct tapedma_io *io, const u8 *cdb,
			  unsigned int cdb_len, unsigned int timeout,
			  blk_mq_req_flags_t flags)
{
	struct tapedma_dev *td = io->td;
	struct request_queue *q = td->sdev->request_queue;
	struct rq_map_data md = { };
	struct scsi_cmnd *scmd;
	struct request *rq;
	int ret;

	if (READ_ONCE(td->detached))
		return -ENODEV;
	rq = scsi_alloc_request(q, io->to_dev ? REQ_OP_DRV_OUT : REQ_OP_DRV_IN,
				flags);
	if (IS_ERR(rq))
		return PTR_ERR(rq);
	if (flags & BLK_MQ_REQ_NOWAIT)
		rq->cmd_flags |= REQ_NOWAIT;

	if (io->len) {
		md.pages = io->pages;
		md.nr_entries = io->nr_pages;
		md.offset = io->first_off;
		md.page_order = 0;
		md.null_mapped = true;
		ret = blk_rq_map_user(q, rq, &md, NULL, io->len, GFP_KERNEL);
		if (ret) {
			pr_debug("tapedma%d: mapping %u bytes failed: %d\n",
				 td->index, io->len, ret);
			blk_mq_free_request(rq);
			return ret;
		}
		io->bio = rq->bio;
		/* the bio must carry our pages, or something copied */
		if (WARN_ON_ONCE(!io->bio || io->bio->bi_io_vec[0].bv_page !=
				 io->pages[0]))
			atomic64_add(io->len, &td->bytes_copied);
	}

	scmd = blk_mq_rq_to_pdu(rq);
	memcpy(scmd->cmnd, cdb, cdb_len);
	scmd->cmd_len = cdb_len;
	scmd->allowed = 0;	/* passthrough: the caller decides on retries */
	rq->timeout = timeout;
	rq->end_io = tapedma_end_io;
	rq->end_io_data = io;

	io->in_flight = true;
	atomic_inc(&tapedma_inflight);
	io->start = jiffies;
	blk_execute_rq_nowait(rq, false);
	return 0;
}

/*
 * Wait killably.  Returns -EINTR if a fatal signal came first: then io
 * belongs to end_io, which releases the pages once the HBA is done.
 */
static int tapedma_wait(struct tapedma_io *io)
{
	int ret = wait_for_completion_killable(&io->done);

	spin_lock_irq(&io->lock);
	if (ret && !io->completed) {
		io->abandoned = true;
		spin_unlock_irq(&io->lock);
		return -EINTR;
	}
	spin_unlock_irq(&io->lock);
	return 0;
}

static void tapedma_parse_sense(const u8 *sense, int len,
				struct tapedma_sense *si)
{
	const u8 *d;
	u64 info;

	memset(si, 0, sizeof(*si));
	if (!len || !scsi_normalize_sense(sense, len, &si->hdr))
		return;
	si->valid = true;
	if (si->hdr.response_code >= 0x72) {
		d = scsi_sense_desc_find(sense, len, 4);	/* stream commands */
		if (d && d[1] >= 2) {
			si->filemark = d[3] & 0x80;
			si->eom = d[3] & 0x40;
			si->ili = d[3] & 0x20;
		}
		if (scsi_get_sense_info_fld(sense, len, &info)) {
			si->info_valid = true;
			si->info = (s64)info;
		}
	} else if (len >= 7) {
		si->filemark = sense[2] & 0x80;
		si->eom = sense[2] & 0x40;
		si->ili = sense[2] & 0x20;
		if (sense[0] & 0x80) {
			si->info_valid = true;
			si->info = (s32)get_unaligned_be32(&sense[3]);
		}
	}
}

static bool tapedma_failed(const struct tapedma_result *r)
{
	return r->status != SAM_STAT_GOOD || r->host_status != DID_OK;
}

/*
 * Turn what end_io saved into the user's result.  The transports under a
 * tape (QEMU, iSCSI) often report no residual; for variable-block
 * READ(6)/WRITE(6) the sense INFORMATION field is the residue in bytes.
 */
static void tapedma_fill_result(struct tapedma_io *io,
				struct tapedma_result *r,
				struct tapedma_sense *si)
{
	u32 resid = min(io->resid, io->len);

	memset(r, 0, sizeof(*r));
	r->status = io->scsi_result & 0xff;
	r->host_status = host_byte(io->scsi_result);
	if (io->blk_status && r->status == SAM_STAT_GOOD &&
	    r->host_status == DID_OK)
		r->host_status = DID_ERROR;
	r->sense_len = io->sense_len;
	memcpy(r->sense, io->sense, io->sense_len);
	r->duration_ms = io->duration_ms;

	tapedma_parse_sense(io->sense, io->sense_len, si);
	if (io->variable_rw && r->status == SAM_STAT_CHECK_CONDITION &&
	    si->valid && !resid) {
		if (si->info_valid && si->info > 0)
			resid = min_t(u64, si->info, io->len);
		else if (!si->info_valid &&
			 (si->filemark || (si->hdr.sense_key != NO_SENSE &&
				si->hdr.sense_key != RECOVERED_ERROR)))
			resid = io->len;	/* no data to trust */
	}
	if (r->host_status != DID_OK)
		resid = io->len;
	r->resid = resid;
	r->transferred = io->len - resid;
}

static void tapedma_account(struct tapedma_dev *td,
			    const struct tapedma_result *r)
{
	atomic64_inc(&td->commands);
	atomic64_add(r->transferred, &td->bytes_moved);
	atomic64_add(r->transferred, &td->bytes_zero_copy);
	if (tapedma_failed(r))
		atomic64_inc(&td->errors);
}

/* ---- TAPEDMA_IOC_CMD and uring_cmd ---- */

static int tapedma_check_cmd(const struct tapedma_cmd *c)
{
	switch (c->cdb_len) {
	case 6: case 10: case 12: case 16:
		break;
	default:
		return -EINVAL;
	}
	if (c->dir > TAPEDMA_DIR_FROM_DEVICE || c->flags != TAPEDMA_F_NONE ||
	    c->reserved1 || c->reserved2[0] || c->reserved2[1])
		return -EINVAL;
	if ((c->dir == TAPEDMA_DIR_NONE) != (c->len == 0))
		return -EINVAL;
	return 0;
}

static bool tapedma_may_send(struct file *file)
{
	return (file->f_mode & FMODE_WRITE) || capable(CAP_SYS_RAWIO);
}

static struct tapedma_io *tapedma_cmd_io(struct tapedma_dev *td,
					 const struct tapedma_cmd *c)
{
	struct tapedma_io *io = tapedma_io_alloc(td,
					c->dir == TAPEDMA_DIR_TO_DEVICE, c->len);

	if (io)
		io->variable_rw = (c->cdb[0] == READ_6 || c->cdb[0] == WRITE_6) &&
				  !(c->cdb[1] & 1);
	return io;
}

static unsigned int tapedma_cmd_timeout(const struct tapedma_cmd *c)
{
	if (c->timeout_ms)
		return max_t(unsigned long, msecs_to_jiffies(c->timeout_ms), 1);
	return tapedma_default_timeout(c->cdb[0]);
}

static long tapedma_ioctl_cmd(struct tapedma_file *tf,
			      struct tapedma_cmd __user *ucmd)
{
	struct tapedma_dev *td = tf->td;
	struct tapedma_result r;
	struct tapedma_sense si;
	struct tapedma_cmd c;
	struct tapedma_io *io;
	struct iov_iter iter;
	long ret;

	if (copy_from_user(&c, ucmd, sizeof(c)))
		return -EFAULT;
	ret = tapedma_check_cmd(&c);
	if (ret)
		return ret;
	io = tapedma_cmd_io(td, &c);
	if (!io)
		return -ENOMEM;
	if (c.len) {
		iov_iter_ubuf(&iter, io->to_dev ? ITER_SOURCE : ITER_DEST,
			      u64_to_user_ptr(c.buf), c.len);
		ret = tapedma_pin_user(io, &iter);
		if (ret)
			goto out_free;
	}
	ret = tapedma_submit(io, c.cdb, c.cdb_len, tapedma_cmd_timeout(&c), 0);
	if (ret)
		goto out_free;
	ret = tapedma_wait(io);
	if (ret)
		return ret;	/* io now belongs to end_io */

	tapedma_fill_result(io, &r, &si);
	tapedma_account(td, &r);
	tapedma_io_free(io);
	ret = tapedma_failed(&r) ? -EIO : r.transferred;
	if (c.result && copy_to_user(u64_to_user_ptr(c.result), &r, sizeof(r)))
		ret = -EFAULT;
	return ret;

out_free:
	tapedma_io_free(io);
	return ret;
}

/* CQE32 rings get status, host byte and residue without reading *result. */
static u64 tapedma_res2(const struct tapedma_result *r)
{
	return (u64)r->status | (u64)r->host_status << 8 | (u64)r->resid << 32;
}

static void tapedma_uring_task_cb(struct io_uring_cmd *ioucmd,
				  unsigned int issue_flags)
{
	struct tapedma_io *io = *(struct tapedma_io **)ioucmd->pdu;
	struct tapedma_result r;
	struct tapedma_sense si;
	u64 uresult = io->uresult;
	ssize_t ret;

	tapedma_fill_result(io, &r, &si);
	tapedma_account(io->td, &r);
	tapedma_io_free(io);
	ret = tapedma_failed(&r) ? -EIO : r.transferred;
	if (uresult && copy_to_user(u64_to_user_ptr(uresult), &r, sizeof(r)))
		ret = -EFAULT;
	io_uring_cmd_done(ioucmd, ret, tapedma_res2(&r), issue_flags);
}

static int tapedma_uring_cmd(struct io_uring_cmd *ioucmd,
			     unsigned int issue_flags)
{
	struct tapedma_file *tf = ioucmd->file->private_data;
	const struct tapedma_cmd *p = ioucmd->cmd;
	blk_mq_req_flags_t flags = 0;
	struct tapedma_io *io;
	struct iov_iter iter;
	struct tapedma_cmd c;
	int ret;

	BUILD_BUG_ON(sizeof(struct tapedma_io *) > sizeof(ioucmd->pdu));
	if (ioucmd->cmd_op != TAPEDMA_URING_CMD)
		return -ENOTTY;
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;		/* the payload needs 64 bytes */
	if (!tapedma_may_send(ioucmd->file))
		return -EPERM;

	/* the SQE is shared with user space: read each field once */
	memcpy(c.cdb, p->cdb, sizeof(c.cdb));
	barrier();
	c.cdb_len = READ_ONCE(p->cdb_len);
	c.dir = READ_ONCE(p->dir);
	c.flags = READ_ONCE(p->flags);
	c.timeout_ms = READ_ONCE(p->timeout_ms);
	c.buf = READ_ONCE(p->buf);
	c.len = READ_ONCE(p->len);
	c.reserved1 = READ_ONCE(p->reserved1);
	c.result = READ_ONCE(p->result);
	c.reserved2[0] = READ_ONCE(p->reserved2[0]);
	c.reserved2[1] = READ_ONCE(p->reserved2[1]);
	ret = tapedma_check_cmd(&c);
	if (ret)
		return ret;

	io = tapedma_cmd_io(tf->td, &c);
	if (!io)
		return -ENOMEM;
	io->ioucmd = ioucmd;
	io->uresult = c.result;
	if (c.len && (ioucmd->flags & IORING_URING_CMD_FIXED)) {
		ret = io_uring_cmd_import_fixed(c.buf, c.len,
						io->to_dev ? WRITE : READ,
						&iter, ioucmd);
		if (!ret)
			ret = tapedma_hold_bvec(io, &iter, TAPEDMA_HOLD_BORROW);
	} else if (c.len) {
		iov_iter_ubuf(&iter, io->to_dev ? ITER_SOURCE : ITER_DEST,
			      u64_to_user_ptr(c.buf), c.len);
		ret = tapedma_pin_user(io, &iter);
	}
	if (ret)
		goto out_free;

	/* NOWAIT: -EWOULDBLOCK is -EAGAIN, and io_uring retries from io-wq */
	if (issue_flags & IO_URING_F_NONBLOCK)
		flags |= BLK_MQ_REQ_NOWAIT;
	*(struct tapedma_io **)ioucmd->pdu = io;
	ret = tapedma_submit(io, c.cdb, c.cdb_len, tapedma_cmd_timeout(&c),
			     flags);
	if (ret)
		goto out_free;
	return -EIOCBQUEUED;

out_free:
	tapedma_io_free(io);
	return ret;
}

/* ---- read/write: one call, one variable-length record ---- */

/* One READ(6)/WRITE(6) attempt; *taken is what a pipe iterator advanced. */
static int tapedma_record_once(struct tapedma_file *tf, struct iov_iter *iter,
			       bool to_dev, size_t len,
			       struct tapedma_result *r, struct tapedma_sense *si,
			       size_t *taken)
{
	struct tapedma_io *io;
	u8 cdb[6] = { };
	ssize_t got;
	int ret;

	*taken = 0;
	io = tapedma_io_alloc(tf->td, to_dev, len);
	if (!io)
		return -ENOMEM;
	io->variable_rw = true;
	switch (iov_iter_type(iter)) {
	case ITER_UBUF:
	case ITER_IOVEC:
		ret = tapedma_pin_user(io, iter);
		break;
	case ITER_BVEC:
		/* refs keep splice's pages if we are killed mid-command */
		ret = tapedma_hold_bvec(io, iter, TAPEDMA_HOLD_REF);
		break;
	case ITER_PIPE:
		ret = -EINVAL;
		if (to_dev)
			break;
		got = tapedma_hold_pipe(io, iter);
		ret = got < 0 ? got : 0;
		if (got > 0)
			*taken = got;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret)
		goto out_free;

	cdb[0] = to_dev ? WRITE_6 : READ_6;
	cdb[1] = 0;		/* variable block mode, no SILI (st's default) */
	cdb[2] = io->len >> 16;
	cdb[3] = io->len >> 8;
	cdb[4] = io->len;
	ret = tapedma_submit(io, cdb, sizeof(cdb), TAPEDMA_IO_TIMEOUT, 0);
	if (ret)
		goto out_free;
	ret = tapedma_wait(io);
	if (ret) {
		*taken = 0;	/* the pipe pages now belong to end_io */
		return ret;
	}
	tapedma_fill_result(io, r, si);
	tapedma_account(tf->td, r);
	tapedma_io_free(io);
	return 0;

out_free:
	if (*taken) {
		iov_iter_revert(iter, *taken);
		*taken = 0;
	}
	tapedma_io_free(io);
	return ret;
}

/* st's answers for a READ(6) that ended in CHECK CONDITION. */
static ssize_t tapedma_read_outcome(const struct tapedma_result *r,
				    const struct tapedma_sense *si)
{
	switch (si->hdr.sense_key) {
	case BLANK_CHECK:
		return 0;	/* end of data: EOF, see tapedma(4) */
	case VOLUME_OVERFLOW:
		return -ENOSPC;
	case NO_SENSE:
	case RECOVERED_ERROR:
		if (si->ili) {
			if (!si->info_valid)
				return -EIO;
			if (si->info < 0)
				return -ENOMEM;	/* record longer than buffer */
			return r->transferred;	/* shorter record */
		}
		if (si->filemark)
			return r->transferred;	/* 0: the drive is past the mark */
		if (si->eom)
			return r->transferred ? r->transferred : -ENOSPC;
		return si->hdr.sense_key == RECOVERED_ERROR ? r->transferred : -EIO;
	default:
		return -EIO;
	}
}

static ssize_t tapedma_write_outcome(struct tapedma_file *tf,
				     const struct tapedma_result *r,
				     const struct tapedma_sense *si)
{
	switch (si->hdr.sense_key) {
	case VOLUME_OVERFLOW:
		return -ENOSPC;
	case NO_SENSE:
	case RECOVERED_ERROR:
		if (si->eom) {
			if (!r->transferred)
				return -ENOSPC;
			/* early warning: this record is on tape, the next
			 * write is refused once so the caller notices
			 */
			tf->eom_pending = true;
			return r->transferred;
		}
		return si->hdr.sense_key == RECOVERED_ERROR ? r->transferred : -EIO;
	default:
		return -EIO;
	}
}

static ssize_t tapedma_record(struct kiocb *iocb, struct iov_iter *iter,
			      bool to_dev)
{
	struct tapedma_file *tf = iocb->ki_filp->private_data;
	size_t len = iov_iter_count(iter);
	struct tapedma_result r;
	struct tapedma_sense si;
	size_t taken;
	ssize_t ret;
	int tries;

	/* a tape command always blocks: let io_uring punt to io-wq */
	if (iocb->ki_flags & IOCB_NOWAIT)
		return -EAGAIN;
	if (!len)
		return 0;
	if (len > TAPEDMA_RW_MAX)
		return -EINVAL;
	if (READ_ONCE(tf->td->detached))
		return -ENODEV;
	if (mutex_lock_killable(&tf->lock))
		return -EINTR;
	if (to_dev && tf->eom_pending) {
		tf->eom_pending = false;
		ret = -ENOSPC;
		goto out;
	}
	for (tries = 0; ; tries++) {
		ret = tapedma_record_once(tf, iter, to_dev, len, &r, &si,
					  &taken);
		if (ret)
			goto out;
		if (!tapedma_failed(&r)) {
			ret = r.transferred;
			break;
		}
		tf->last = r;
		if (r.status != SAM_STAT_CHECK_CONDITION || r.host_status ||
		    !si.valid) {
			ret = -EIO;
			break;
		}
		if (si.hdr.sense_key == UNIT_ATTENTION &&
		    tries < TAPEDMA_UA_RETRIES) {
			if (taken)
				iov_iter_revert(iter, taken);
			continue;
		}
		ret = to_dev ? tapedma_write_outcome(tf, &r, &si)
			     : tapedma_read_outcome(&r, &si);
		break;
	}
	if (taken) {
		/* give back the pipe pages the drive did not fill */
		iov_iter_revert(iter, taken - (ret > 0 ? ret : 0));
	} else if (ret > 0) {
		iov_iter_advance(iter, ret);
	}
out:
	mutex_unlock(&tf->lock);
	return ret;
}

static ssize_t tapedma_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return tapedma_record(iocb, to, false);
}

static ssize_t tapedma_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return tapedma_record(iocb, from, true);
}

/* ---- ioctls ---- */

static void tapedma_copy_id(char *dst, const char *src, size_t n)
{
	size_t len = n;

	if (src)
		memcpy(dst, src, n);
	else
		memset(dst, ' ', n);
	while (len && (dst[len - 1] == ' ' || !dst[len - 1]))
		len--;
	memset(dst + len, 0, n + 1 - len);
}

static long tapedma_ioctl_info(struct tapedma_dev *td, void __user *arg)
{
	struct scsi_device *sdev = td->sdev;
	struct request_queue *q = sdev->request_queue;
	struct tapedma_info info = { };

	info.max_transfer = tapedma_max_transfer(q);
	info.max_segments = tapedma_max_pages(q);
	info.max_segment_size = queue_max_segment_size(q);
	info.dma_alignment = tapedma_dma_mask(q);
	info.host_no = sdev->host->host_no;
	info.channel = sdev->channel;
	info.id = sdev->id;
	info.lun = sdev->lun;
	tapedma_copy_id(info.vendor, sdev->vendor, 8);
	tapedma_copy_id(info.model, sdev->model, 16);
	tapedma_copy_id(info.rev, sdev->rev, 4);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static void tapedma_get_stats(struct tapedma_dev *td, struct tapedma_stats *s)
{
	s->commands = atomic64_read(&td->commands);
	s->bytes_moved = atomic64_read(&td->bytes_moved);
	s->bytes_zero_copy = atomic64_read(&td->bytes_zero_copy);
	s->bytes_copied = atomic64_read(&td->bytes_copied);
	s->errors = atomic64_read(&td->errors);
	s->pages_pinned_now = atomic64_read(&td->pages_pinned_now);
}

static long tapedma_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct tapedma_file *tf = file->private_data;
	struct tapedma_dev *td = tf->td;
	void __user *uarg = (void __user *)arg;
	struct tapedma_result last;
	struct tapedma_stats stats;

	switch (cmd) {
	case TAPEDMA_IOC_CMD:
		if (!tapedma_may_send(file))
			return -EPERM;
		if (READ_ONCE(td->detached))
			return -ENODEV;
		return tapedma_ioctl_cmd(tf, uarg);
	case TAPEDMA_IOC_INFO:
		if (READ_ONCE(td->detached))
			return -ENODEV;
		return tapedma_ioctl_info(td, uarg);
	case TAPEDMA_IOC_STATS:
		tapedma_get_stats(td, &stats);
		return copy_to_user(uarg, &stats, sizeof(stats)) ? -EFAULT : 0;
	case TAPEDMA_IOC_LAST_SENSE:
		if (mutex_lock_killable(&tf->lock))
			return -EINTR;
		last = tf->last;
		mutex_unlock(&tf->lock);
		return copy_to_user(uarg, &last, sizeof(last)) ? -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

/* ---- open/release ---- */

static int tapedma_open(struct inode *inode, struct file *file)
{
	struct tapedma_dev *td;
	struct tapedma_file *tf;
	int ret = -ENXIO;

	tf = kzalloc(sizeof(*tf), GFP_KERNEL);
	if (!tf)
		return -ENOMEM;

	/* under the lock so remove_dev cannot let the sdev go meanwhile */
	mutex_lock(&tapedma_lock);
	td = idr_find(&tapedma_idr, iminor(inode));
	if (td && !td->detached && !scsi_device_get(td->sdev)) {
		kref_get(&td->kref);
		ret = 0;
	}
	mutex_unlock(&tapedma_lock);
	if (ret)
		goto out_free;

	if (!(file->f_flags & O_NONBLOCK) &&
	    !scsi_block_when_processing_errors(td->sdev)) {
		ret = -ENXIO;	/* went offline during error handling */
		goto out_put;
	}
	mutex_init(&tf->lock);
	tf->td = td;
	file->private_data = tf;
	stream_open(inode, file);
	return 0;

out_put:
	scsi_device_put(td->sdev);
	kref_put(&td->kref, tapedma_dev_release);
out_free:
	kfree(tf);
	return ret;
}

static int tapedma_release(struct inode *inode, struct file *file)
{
	struct tapedma_file *tf = file->private_data;

	scsi_device_put(tf->td->sdev);
	kref_put(&tf->td->kref, tapedma_dev_release);
	kfree(tf);
	return 0;
}

static const struct file_operations tapedma_fops = {
	.owner = THIS_MODULE,
	.open = tapedma_open,
	.release = tapedma_release,
	.read_iter = tapedma_read_iter,
	.write_iter = tapedma_write_iter,
	.splice_read = generic_file_splice_read,	/* ITER_PIPE, handled above */
	.splice_write = iter_file_splice_write,		/* ITER_BVEC */
	.unlocked_ioctl = tapedma_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.uring_cmd = tapedma_uring_cmd,
	.llseek = no_llseek,
};

/* ---- sysfs: /sys/class/tapedma/tapedmaN/stats/ ---- */

#define TAPEDMA_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct tapedma_dev *td = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%lld\n", atomic64_read(&td->name));	\
}									\
static DEVICE_ATTR_RO(name)

TAPEDMA_STAT_ATTR(commands);
TAPEDMA_STAT_ATTR(bytes_moved);
TAPEDMA_STAT_ATTR(bytes_zero_copy);
TAPEDMA_STAT_ATTR(bytes_copied);
TAPEDMA_STAT_ATTR(errors);
TAPEDMA_STAT_ATTR(pages_pinned_now);

static struct attribute *tapedma_stats_attrs[] = {
	&dev_attr_commands.attr,
	&dev_attr_bytes_moved.attr,
	&dev_attr_bytes_zero_copy.attr,
	&dev_attr_bytes_copied.attr,
	&dev_attr_errors.attr,
	&dev_attr_pages_pinned_now.attr,
	NULL,
};

static const struct attribute_group tapedma_stats_group = {
	.name = "stats",
	.attrs = tapedma_stats_attrs,
};

static const struct attribute_group *tapedma_groups[] = {
	&tapedma_stats_group,
	NULL,
};

/* ---- attaching to SCSI tapes ---- */

static int tapedma_add_dev(struct device *cl_dev, struct class_interface *intf)
{
	struct scsi_device *sdev = to_scsi_device(cl_dev->parent);
	struct tapedma_dev *td;
	dev_t devt;
	int ret;

	if (sdev->type != TYPE_TAPE)
		return 0;
	td = kzalloc(sizeof(*td), GFP_KERNEL);
	if (!td)
		return -ENOMEM;
	kref_init(&td->kref);
	td->sdev = sdev;

	/* reserve the minor; open finds NULL until we are set up */
	mutex_lock(&tapedma_lock);
	ret = idr_alloc(&tapedma_idr, NULL, 0, TAPEDMA_MAX_DEVS, GFP_KERNEL);
	mutex_unlock(&tapedma_lock);
	if (ret < 0) {
		sdev_printk(KERN_WARNING, sdev, "tapedma: no free minor: %d\n",
			    ret);
		goto out_free;
	}
	td->index = ret;
	devt = MKDEV(MAJOR(tapedma_devt), td->index);

	ret = -ENOMEM;
	td->cdev = cdev_alloc();
	if (!td->cdev)
		goto out_idr;
	td->cdev->owner = THIS_MODULE;
	td->cdev->ops = &tapedma_fops;
	ret = cdev_add(td->cdev, devt, 1);
	if (ret)
		goto out_cdev;
	td->dev = device_create_with_groups(tapedma_class, &sdev->sdev_gendev,
					    devt, td, tapedma_groups,
					    "tapedma%d", td->index);
	if (IS_ERR(td->dev)) {
		ret = PTR_ERR(td->dev);
		goto out_cdev;
	}

	mutex_lock(&tapedma_lock);
	idr_replace(&tapedma_idr, td, td->index);
	list_add_tail(&td->node, &tapedma_devs);
	mutex_unlock(&tapedma_lock);
	sdev_printk(KERN_INFO, sdev, "attached tapedma%d\n", td->index);
	return 0;

out_cdev:
	cdev_del(td->cdev);
out_idr:
	mutex_lock(&tapedma_lock);
	idr_remove(&tapedma_idr, td->index);
	mutex_unlock(&tapedma_lock);
out_free:
	kfree(td);
	return ret;
}

static void tapedma_remove_dev(struct device *cl_dev,
			       struct class_interface *intf)
{
	struct scsi_device *sdev = to_scsi_device(cl_dev->parent);
	struct tapedma_dev *td = NULL, *pos;

	mutex_lock(&tapedma_lock);
	list_for_each_entry(pos, &tapedma_devs, node) {
		if (pos->sdev == sdev) {
			td = pos;
			break;
		}
	}
	if (td) {
		list_del(&td->node);
		idr_remove(&tapedma_idr, td->index);
		WRITE_ONCE(td->detached, true);
	}
	mutex_unlock(&tapedma_lock);
	if (!td)
		return;

	/* open files keep td; their next command gets -ENODEV */
	device_destroy(tapedma_class, MKDEV(MAJOR(tapedma_devt), td->index));
	cdev_del(td->cdev);
	sdev_printk(KERN_INFO, sdev, "detached tapedma%d\n", td->index);
	kref_put(&td->kref, tapedma_dev_release);
}

static struct class_interface tapedma_interface = {
	.add_dev = tapedma_add_dev,
	.remove_dev = tapedma_remove_dev,
};

static int __init tapedma_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct tapedma_cmd) != 64);
	BUILD_BUG_ON(sizeof(struct tapedma_result) != 112);
	BUILD_BUG_ON(sizeof(struct tapedma_info) != 96);
	BUILD_BUG_ON(TAPEDMA_SENSE_MAX < SCSI_SENSE_BUFFERSIZE);

	ret = alloc_chrdev_region(&tapedma_devt, 0, TAPEDMA_MAX_DEVS, "tapedma");
	if (ret)
		return ret;
	tapedma_class = class_create(THIS_MODULE, "tapedma");
	if (IS_ERR(tapedma_class)) {
		ret = PTR_ERR(tapedma_class);
		goto out_region;
	}
	tapedma_wq = alloc_workqueue("tapedma", 0, 0);
	if (!tapedma_wq) {
		ret = -ENOMEM;
		goto out_class;
	}
	ret = scsi_register_interface(&tapedma_interface);
	if (ret)
		goto out_wq;
	pr_info("version " TAPEDMA_VERSION " loaded\n");
	return 0;

out_wq:
	destroy_workqueue(tapedma_wq);
out_class:
	class_destroy(tapedma_class);
out_region:
	unregister_chrdev_region(tapedma_devt, TAPEDMA_MAX_DEVS);
	return ret;
}

static void __exit tapedma_exit(void)
{
	scsi_unregister_interface(&tapedma_interface);
	/* commands whose caller was killed may still be on the wire */
	wait_event(tapedma_inflight_wq, !atomic_read(&tapedma_inflight));
	destroy_workqueue(tapedma_wq);
	class_destroy(tapedma_class);
	unregister_chrdev_region(tapedma_devt, TAPEDMA_MAX_DEVS);
	idr_destroy(&tapedma_idr);
}

module_init(tapedma_init);
module_exit(tapedma_exit);

MODULE_DESCRIPTION("Zero-copy DMA access to SCSI tape drives");
MODULE_AUTHOR("fusetape");
MODULE_LICENSE("GPL");
MODULE_VERSION(TAPEDMA_VERSION);
