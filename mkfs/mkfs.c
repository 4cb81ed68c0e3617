/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mkfs.fusetape - make an LTFS volume on a tape or a virtual tape image.
 *
 * The formatting itself is ltfs_format()'s; this program turns a command
 * line into its options, creates an image file on request, and refuses the
 * dangerous cases (an existing volume, a write-protected or too small
 * medium) with a message that says what was found.
 *
 * Exit status (documented in mkfs.fusetape(8)): 0 the volume was made,
 * 1 it was not (operational error or refusal), 16 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ltfs/ltfs.h"
#include "tape/tape.h"
#include "tape/tape_image.h"
#include "tool.h"

#define PROG "mkfs.fusetape"

enum { EXIT_MADE = 0, EXIT_FAILED = 1, EXIT_USAGE = 16 };

/* VOL1 volume identifiers are ANSI "a-characters"; LTFS tools use A-Z 0-9. */
#define BARCODE_LEN 6

struct options {
	const char *device;
	const char *volume_name;
	const char *barcode;
	uint64_t block_size;
	uint64_t image_size;
	uint64_t index_partition_size;
	bool have_block_size, have_image_size, have_ip_size;
	bool force, single_partition, quiet;
};

static bool quiet;
/* The image this run created, removed again if formatting fails. */
static const char *created_image;

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_verror(PROG, fmt, ap);
	va_end(ap);
}

static void help(void)
{
	printf("Usage: " PROG " [options] DEVICE\n"
	       "Make an LTFS volume (format 2.4) on a tape drive or a virtual tape image.\n"
	       "All data on DEVICE is lost.\n"
	       "\n"
	       "  -n, --volume-name NAME      name of the volume (the root directory)\n"
	       "  -s, --barcode XXXXXX        6-character volume serial for the VOL1 label\n"
	       "                              (A-Z, 0-9), also stored in the MAM\n"
	       "  -b, --block-size SIZE       record size of the volume (default 512K,\n"
	       "                              at least 4K, at most the drive's largest record)\n"
	       "  -f, --force                 overwrite an existing LTFS volume; with\n"
	       "                              --image-size, replace an existing image file\n"
	       "      --image-size SIZE       create DEVICE as a virtual tape image of SIZE\n"
	       "                              bytes if it does not exist (sparse file)\n"
	       "      --index-partition-size SIZE\n"
	       "                              capacity of the index partition (default 5%%\n"
	       "                              of the medium, at least 16 blocks)\n"
	       "      --single-partition      one partition only, for drives that cannot\n"
	       "                              partition: a fusetape extension that other\n"
	       "                              LTFS implementations refuse to mount\n"
	       "  -q, --quiet                 print only errors\n"
	       "  -h, --help                  show this help and exit\n"
	       "  -V, --version               show the version and exit\n"
	       "\n"
	       "SIZE is a number of bytes with an optional K, M, G or T suffix (powers of 1024).\n"
	       "Exit status: 0 volume made, 1 not made (error or refusal), 16 usage error.\n");
}

static uint64_t size_arg(const char *opt, const char *s)
{
	uint64_t v;
	int rc = tape_parse_size(s, &v);

	if (rc == -ERANGE)
		tool_usage_error(PROG, EXIT_USAGE, "%s: '%s' is too large", opt, s);
	if (rc)
		tool_usage_error(PROG, EXIT_USAGE, "%s: '%s' is not a size (use e.g. 512K, 2G)", opt, s);
	return v;
}

static void check_barcode(const char *s)
{
	size_t n = strlen(s);

	if (n != BARCODE_LEN)
		tool_usage_error(PROG, EXIT_USAGE, "--barcode: '%s' has %zu characters; a VOL1 volume serial has "
			    "exactly %d", s, n, BARCODE_LEN);
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			tool_usage_error(PROG, EXIT_USAGE, "--barcode: '%s': only upper-case letters A-Z and digits "
				    "0-9 are allowed", s);
}

static void check_volume_name(const char *s)
{
	const char *why = tool_check_name(s);

	if (why)
		tool_usage_error(PROG, EXIT_USAGE, "--volume-name: %s", why);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_IMAGE_SIZE = 256, OPT_IP_SIZE, OPT_SINGLE };
	static const struct option longopts[] = {
		{ "volume-name", required_argument, NULL, 'n' },
		{ "barcode", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "image-size", required_argument, NULL, OPT_IMAGE_SIZE },
		{ "index-partition-size", required_argument, NULL, OPT_IP_SIZE },
		{ "single-partition", no_argument, NULL, OPT_SINGLE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:s:b:fqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->volume_name = optarg;
			break;
		case 's':
			o->barcode = optarg;
			break;
		case 'b':
			o->block_size = size_arg("--block-size", optarg);
			o->have_block_size = true;
			break;
		case 'f':
			o->force = true;
			break;
		case OPT_IMAGE_SIZE:
			o->image_size = size_arg("--image-size", optarg);
			o->have_image_size = true;
			break;
		case OPT_IP_SIZE:
			o->index_partition_size = size_arg("--index-partition-size", optarg);
			o->have_ip_size = true;
			break;
		case OPT_SINGLE:
			o->single_partition = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			help();
			exit(EXIT_MADE);
		case 'V':
			tool_print_version(PROG);
			exit(EXIT_MADE);
		default:
			tool_option_error(PROG, EXIT_USAGE, c, argv);
		}
	}
	o->device = tool_device_arg(PROG, EXIT_USAGE, argc, argv);

	if (o->barcode)
		check_barcode(o->barcode);
	if (o->volume_name)
		check_volume_name(o->volume_name);
	if (!o->have_block_size)
		o->block_size = LTFS_DEFAULT_BLOCKSIZE;
	if (o->block_size < LTFS_MIN_BLOCKSIZE)
		tool_usage_error(PROG, EXIT_USAGE, "--block-size: %" PRIu64 " bytes is below the LTFS minimum of %u",
			    o->block_size, LTFS_MIN_BLOCKSIZE);
	if (o->block_size > TAPE_RECORD_MAX_SUPPORTED)
		tool_usage_error(PROG, EXIT_USAGE, "--block-size: %" PRIu64 " bytes is above the largest record "
			    "fusetape supports (%u)", o->block_size,
			    TAPE_RECORD_MAX_SUPPORTED);
	if (o->have_image_size && o->image_size < 2 * TAPE_IMAGE_MIN_PARTITION)
		tool_usage_error(PROG, EXIT_USAGE, "--image-size: %" PRIu64 " bytes is too small for two partitions",
			    o->image_size);
	if (o->have_ip_size && o->single_partition)
		tool_usage_error(PROG, EXIT_USAGE, "--index-partition-size and --single-partition exclude each other");
	if (o->have_ip_size && o->index_partition_size < 16 * o->block_size)
		tool_usage_error(PROG, EXIT_USAGE, "--index-partition-size: %" PRIu64 " bytes is less than 16 blocks "
			    "of %" PRIu64 " bytes", o->index_partition_size, o->block_size);
}

/* --image-size: create the image file, or refuse to replace one. */
static int make_image(const struct options *o)
{
	struct tape_image_params p = { 0 };
	char err[256] = "";
	struct stat st;
	bool existed = false;
	int rc;

	if (stat(o->device, &st) == 0) {
		existed = true;
		if (!S_ISREG(st.st_mode)) {
			fail("%s exists and is not a regular file; --image-size only creates "
			     "image files", o->device);
			return -EINVAL;
		}
		if (!o->force) {
			fail("%s already exists; not replacing it with a new %" PRIu64
			     "-byte image (use --force to replace it, or leave out "
			     "--image-size to format the existing image)",
			     o->device, o->image_size);
			return -EEXIST;
		}
	} else if (errno != ENOENT) {
		fail("%s: %s", o->device, strerror(errno));
		return -errno;
	}
	p.size = o->image_size;
	p.partitions = 1;
	p.force = o->force;
	p.barcode = o->barcode;
	rc = tape_image_create(o->device, &p, err, sizeof(err));
	if (rc) {
		fail("cannot create image %s: %s", o->device, err[0] ? err : strerror(-rc));
		return rc;
	}
	if (!existed)
		created_image = o->device;
	info("Created virtual tape image %s (%" PRIu64 " bytes, sparse)\n", o->device,
	     o->image_size);
	return 0;
}

static void print_found(const char *dev, const struct ltfs_label_info *li)
{
	char when[64];

	tool_format_time(&li->format_time, when, sizeof(when));
	fprintf(stderr, "  %s holds an LTFS volume:\n", dev);
	fprintf(stderr, "    UUID         %s\n", li->uuid);
	fprintf(stderr, "    volume name  %s\n", li->volume_name[0] ? li->volume_name : "(none)");
	if (li->barcode[0])
		fprintf(stderr, "    barcode      %s\n", li->barcode);
	fprintf(stderr, "    formatted    %s\n", when);
	if (li->creator[0])
		fprintf(stderr, "    by           %s\n", li->creator);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct tape *t = NULL;
	struct tape_medium med;
	const struct tape_caps *caps;
	struct ltfs_format_opts fo = { 0 };
	struct ltfs_label_info li;
	char err[LTFS_ERRLEN > 256 ? LTFS_ERRLEN : 256] = "";
	struct stat st;
	int status = EXIT_FAILED;
	int rc;

	parse_args(argc, argv, &o);
	quiet = o.quiet;

	if (o.have_image_size) {
		if (make_image(&o))
			return EXIT_FAILED;
	} else if (stat(o.device, &st) != 0) {
		if (errno == ENOENT)
			fail("%s does not exist (to create a virtual tape image there, add "
			     "--image-size SIZE)", o.device);
		else
			fail("%s: %s", o.device, strerror(errno));
		return EXIT_FAILED;
	} else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		fail("%s is neither a tape device nor a virtual tape image file", o.device);
		return EXIT_FAILED;
	}

	if (tool_open_tape(PROG, o.device, 0, &t))
		return EXIT_FAILED;
	rc = tape_medium_info(t, &med);
	if (rc) {
		fail("%s: cannot read the medium's state: %s (%s)", o.device,
		     strerror(-rc), tape_sense_name(tape_last(t)->sense));
		goto failed;
	}
	if (med.write_protected) {
		fail("%s: the medium is write-protected; nothing was written", o.device);
		goto failed;
	}
	caps = tape_caps(t);
	if (o.block_size > caps->max_record) {
		fail("--block-size: %" PRIu64 " bytes is larger than the largest record "
		     "this drive writes (%" PRIu32 " bytes)", o.block_size, caps->max_record);
		status = EXIT_USAGE;
		goto failed;
	}
	if (!o.single_partition && (caps->max_partitions < 2 || !caps->can_format)) {
		fail("%s cannot be partitioned, and LTFS needs two partitions. "
		     "--single-partition makes a fusetape-only volume instead.", o.device);
		goto failed;
	}
	{
		uint64_t total = 0;

		for (unsigned i = 0; i < med.partitions && i < TAPE_MAX_PARTITIONS; i++)
			total += med.capacity[i];
		/* what ltfs_format() needs: an index partition of 16 blocks and
		 * 32 more, or 32 in all on one partition */
		uint64_t need = (o.single_partition ? 32 : 48) * o.block_size;

		/* total 0: the drive cannot tell (st, tapedma without MAM);
		 * early warning and end of medium will */
		if (total && total < need) {
			fail("%s is too small: %" PRIu64 " bytes, an LTFS volume with %" PRIu64
			     "-byte blocks needs at least %" PRIu64, o.device, total,
			     o.block_size, need);
			goto failed;
		}
		if (o.have_ip_size && total && o.index_partition_size + 32 * o.block_size > total) {
			fail("--index-partition-size: %" PRIu64 " bytes leaves no room for the "
			     "data partition (medium: %" PRIu64 " bytes)",
			     o.index_partition_size, total);
			goto failed;
		}
	}

	rc = ltfs_probe(t, &li);
	if (rc == 0) {
		if (!o.force) {
			fail("refusing to overwrite an existing LTFS volume (use --force):");
			print_found(o.device, &li);
			goto failed;
		}
		if (!quiet) {
			fprintf(stderr, PROG ": --force: overwriting this volume:\n");
			print_found(o.device, &li);
		}
	} else if (rc != -ENOENT && !o.force) {
		fail("%s: cannot read the medium to check for an existing volume: %s "
		     "(use --force to format it all the same)", o.device, strerror(-rc));
		goto failed;
	} else if (rc != -ENOENT && !quiet) {
		fprintf(stderr, PROG ": --force: the medium does not read (%s); formatting it "
			"all the same\n", strerror(-rc));
	}

	if (o.single_partition)
		fprintf(stderr,
			PROG ": WARNING: --single-partition makes a volume with ONE partition.\n"
			PROG ": WARNING: This is a fusetape extension, not LTFS.\n"
			PROG ": WARNING: other LTFS implementations (IBM, HPE, Quantum) refuse to\n"
			PROG ": WARNING: mount it. Use it only for drives that cannot partition.\n");

	fo.volume_name = o.volume_name;
	fo.barcode = o.barcode;
	fo.block_size = (uint32_t)o.block_size;
	fo.index_partition_size = o.index_partition_size;
	fo.force = o.force;
	fo.single_partition = o.single_partition;
	err[0] = '\0';
	rc = ltfs_format(t, &fo, err);
	if (rc) {
		if (rc == -ENOSPC)
			fail("%s is too small for this volume: %s", o.device,
			     err[0] ? err : strerror(-rc));
		else if (rc == -EROFS)
			fail("%s is write-protected: %s", o.device, err[0] ? err : strerror(-rc));
		else
			fail("formatting %s failed: %s", o.device, err[0] ? err : strerror(-rc));
		goto failed;
	}
	rc = tape_close(t);
	t = NULL;
	if (rc) {
		fail("%s: closing the device failed, the volume may be incomplete: %s",
		     o.device, strerror(-rc));
		return EXIT_FAILED;
	}

	/* Read back what was written, as the user will see it. */
	if (!quiet) {
		char when[64];

		rc = tape_open(o.device, TAPE_OPEN_READONLY, &t, err, sizeof(err));
		if (rc || ltfs_probe(t, &li) != 0) {
			fail("%s: formatted, but the new label does not read back", o.device);
			tape_close(t);
			return EXIT_FAILED;
		}
		tool_format_time(&li.format_time, when, sizeof(when));
		printf("Made LTFS volume on %s (%s)\n", o.device, tape_backend_name(t));
		printf("  UUID         %s\n", li.uuid);
		printf("  volume name  %s\n", li.volume_name[0] ? li.volume_name : "(none)");
		printf("  barcode      %s\n", li.barcode[0] ? li.barcode : "(none)");
		printf("  block size   %" PRIu32 "\n", li.block_size);
		printf("  formatted    %s\n", when);
		if (tape_medium_info(t, &med) == 0)
			for (unsigned i = 0; i < med.partitions && i < TAPE_MAX_PARTITIONS; i++)
				printf("  partition %u  %" PRIu64 " bytes (%s)\n", i, med.capacity[i],
				       med.partitions == 1 ? "index and data" :
				       i == 0 ? "index partition a" : "data partition b");
		tape_close(t);
	}
	return EXIT_MADE;

failed:
	tape_close(t);
	if (created_image && unlink(created_image) == 0)
		fprintf(stderr, PROG ": removed the image %s again\n", created_image);
	return status;
}
