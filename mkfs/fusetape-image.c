/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fusetape-image - create, inspect and write-protect virtual tape images.
 *
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape/tape.h"
#include "tape/tape_image.h"
#include "tool.h"

enum { EXIT_USAGE = 2 };

static const char *prog = "fusetape-image";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s create [OPTIONS] FILE   make a new, empty virtual tape\n"
		"       %s info FILE               describe an image\n"
		"       %s set --read-only|--read-write FILE\n"
		"                                      flip the write-protect tab\n"
		"\n"
		"create options:\n"
		"  -s, --size SIZE             cartridge capacity (default 2G)\n"
		"  -p, --partitions N          1 to 4 partitions (default 1)\n"
		"  -P, --partition-size I:SIZE[,I:SIZE...]\n"
		"                              capacity of partition I; the last one\n"
		"                              left out gets the rest\n"
		"  -e, --early-warning SIZE    warn this far before a partition's end\n"
		"                              (default 1%% of SIZE, at least 64K, at most\n"
		"                              a quarter of the smallest partition)\n"
		"  -m, --max-record SIZE       largest record (default 8M, at most 16M)\n"
		"  -b, --barcode TEXT          volume barcode (up to 32 characters)\n"
		"  -r, --read-only             create it write-protected\n"
		"  -f, --force                 replace an existing file\n"
		"\n"
		"SIZE is bytes or a number with K, M, G, T (powers of 1024).\n"
		"  -h, --help     this text\n"
		"  -V, --version  print the version\n",
		prog, prog, prog);
}

static bool parse_size_arg(const char *what, const char *s, uint64_t *out)
{
	int err = tape_parse_size(s, out);

	if (err) {
		fprintf(stderr, "%s: %s: '%s' is not a size%s\n", prog, what, s,
			err == -ERANGE ? " (too large)" : "");
		return false;
	}
	return true;
}

/* "0:100M,1:2G" into sizes[]; returns false after printing the problem. */
static bool parse_partition_sizes(const char *arg, uint64_t *sizes, bool *given)
{
	char *copy = strdup(arg), *save = NULL, *item;
	bool ok = true;

	if (!copy)
		return false;
	for (item = strtok_r(copy, ",", &save); item && ok; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), *end;
		unsigned long idx;

		if (!colon) {
			fprintf(stderr, "%s: --partition-size: '%s' is not INDEX:SIZE\n", prog, item);
			ok = false;
			break;
		}
		*colon = '\0';
		errno = 0;
		idx = strtoul(item, &end, 10);
		if (!*item || *end || errno || idx >= TAPE_MAX_PARTITIONS) {
			fprintf(stderr, "%s: --partition-size: bad partition index '%s' (0 to %d)\n",
				prog, item, TAPE_MAX_PARTITIONS - 1);
			ok = false;
			break;
		}
		ok = parse_size_arg("--partition-size", colon + 1, &sizes[idx]);
		given[idx] = true;
	}
	free(copy);
	return ok;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "partition-size", required_argument, NULL, 'P' },
		{ "early-warning", required_argument, NULL, 'e' },
		{ "max-record", required_argument, NULL, 'm' },
		{ "barcode", required_argument, NULL, 'b' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tape_image_params p = { 0 };
	bool given[TAPE_MAX_PARTITIONS] = { false };
	uint64_t v;
	char err[256];
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:p:P:e:m:b:rfh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_size_arg("--size", optarg, &p.size))
				return 2;
			if (p.size == 0)
				tool_usage_error(prog, EXIT_USAGE, "--size must not be 0");
			break;
		case 'p': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > TAPE_MAX_PARTITIONS)
				tool_usage_error(prog, EXIT_USAGE, "--partitions: '%s' is not 1 to 4", optarg);
			p.partitions = (unsigned)n;
			break;
		}
		case 'P':
			if (!parse_partition_sizes(optarg, p.partition_size, given))
				return 2;
			break;
		case 'e':
			if (!parse_size_arg("--early-warning", optarg, &p.early_warning))
				return 2;
			break;
		case 'm':
			if (!parse_size_arg("--max-record", optarg, &v))
				return 2;
			if (v < 1 || v > TAPE_IMAGE_MAX_RECORD)
				tool_usage_error(prog, EXIT_USAGE, "--max-record: '%s' is not 1 byte to 16M", optarg);
			p.max_record = (uint32_t)v;
			break;
		case 'b':
			if (strlen(optarg) > 32)
				tool_usage_error(prog, EXIT_USAGE, "--barcode: '%s' is longer than 32 characters", optarg);
			p.barcode = optarg;
			break;
		case 'r':
			p.readonly = true;
			break;
		case 'f':
			p.force = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			tool_usage_error(prog, EXIT_USAGE, "create: bad option");
		}
	}
	if (optind + 1 != argc)
		tool_usage_error(prog, EXIT_USAGE, "create: need exactly one FILE");
	if (!p.partitions) {
		/* Sizes given, count not: after the last one given, one more
		 * partition takes the rest (unless that one was "I:0"). */
		p.partitions = 1;
		for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++) {
			unsigned n = i + (p.partition_size[i] ? 2 : 1);
			if (given[i])
				p.partitions = n > TAPE_MAX_PARTITIONS ? TAPE_MAX_PARTITIONS : n;
		}
	}
	for (unsigned i = p.partitions; i < TAPE_MAX_PARTITIONS; i++)
		if (given[i]) {
			fprintf(stderr, "%s: --partition-size gives partition %u, but there are only %u\n",
				prog, i, p.partitions);
			return 2;
		}
	rc = tape_image_create(argv[optind], &p, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, err[0] ? err : strerror(-rc));
		return 1;
	}
	return 0;
}

static void print_size(const char *label, uint64_t v)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)v;
	int u = -1;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u < 0)
		printf("%s%" PRIu64 " bytes\n", label, v);
	else
		printf("%s%" PRIu64 " bytes (%.1f %s)\n", label, v, d, units[u]);
}

static void print_attr(const struct tape_attr *a)
{
	printf("    0x%04X ", a->id);
	if (a->format == TAPE_ATTR_BINARY) {
		printf("binary ");
		for (unsigned i = 0; i < a->length && i < 64; i++)
			printf("%02x", a->value[i]);
		if (a->length > 64)
			printf("...");
	} else {
		printf("%s \"", a->format == TAPE_ATTR_ASCII ? "ascii" : "text");
		for (unsigned i = 0; i < a->length; i++) {
			unsigned char ch = a->value[i];
			if (ch == '"' || ch == '\\')
				printf("\\%c", ch);
			else if (ch >= 0x20 && ch < 0x7f)
				putchar(ch);
			else
				printf("\\x%02x", ch);
		}
		printf("\"");
	}
	printf(" (%u bytes)\n", a->length);
}

static int cmd_info(int argc, char **argv)
{
	struct tape_image_info info;
	struct tape *t;
	char err[256];
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		tool_usage_error(prog, EXIT_USAGE, "info: need exactly one FILE");
	rc = tape_open(argv[1], TAPE_OPEN_READONLY | TAPE_IMAGE_OPEN_NOLOCK, &t, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, err[0] ? err : strerror(-rc));
		return 1;
	}
	if (!tape_is_image(t)) {
		fprintf(stderr, "%s: %s: not a tape image\n", prog, argv[1]);
		tape_close(t);
		return 1;
	}
	tape_image_get_info(t, &info);
	printf("image:          %s\n", argv[1]);
	printf("format version: %" PRIu32 "\n", info.version);
	printf("uuid:           %s\n", info.uuid);
	printf("vendor:         %s\n", tape_identity(t)->vendor);
	printf("product:        %s\n", tape_identity(t)->product);
	printf("serial:         %s\n", tape_identity(t)->serial);
	printf("barcode:        %s\n", info.barcode[0] ? info.barcode : "(none)");
	print_size("capacity:       ", info.capacity);
	print_size("file size:      ", info.file_size);
	printf("early warning:  %" PRIu64 " bytes%s\n", info.early_warning,
	       info.early_warning_auto ? " (automatic)" : "");
	print_size("max record:     ", info.max_record);
	printf("write protect:  %s\n", info.write_protected ? "yes" : "no");
	printf("generation:     %" PRIu64 "\n", info.format_generation);
	printf("partitions:     %u\n", info.partitions);
	for (unsigned i = 0; i < info.partitions; i++) {
		struct tape_attr attrs[64];
		int n;

		printf("partition %u:\n", i);
		print_size("  capacity:     ", info.part[i].capacity);
		print_size("  used:         ", info.part[i].used);
		printf("  eod:          %" PRIu64 "\n", info.part[i].eod);
		printf("  records:      %" PRIu64 "\n", info.part[i].records);
		printf("  filemarks:    %" PRIu64 "\n", info.part[i].filemarks);
		n = tape_image_list_attrs(t, i, attrs, 64);
		printf("  attributes:   %d\n", n < 0 ? 0 : n);
		for (int k = 0; k < n && k < 64; k++)
			print_attr(&attrs[k]);
	}
	tape_close(t);
	return 0;
}

static int cmd_set(int argc, char **argv)
{
	int ro = -1;
	const char *file = NULL;
	char err[256];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--read-only") || !strcmp(argv[i], "-r"))
			ro = 1;
		else if (!strcmp(argv[i], "--read-write") || !strcmp(argv[i], "-w"))
			ro = 0;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-')
			tool_usage_error(prog, EXIT_USAGE, "set: unknown option '%s'", argv[i]);
		else if (file)
			tool_usage_error(prog, EXIT_USAGE, "set: more than one FILE ('%s')", argv[i]);
		else
			file = argv[i];
	}
	if (ro < 0 || !file)
		tool_usage_error(prog, EXIT_USAGE, "set: need --read-only or --read-write and a FILE");
	rc = tape_image_set_readonly(file, ro, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, err[0] ? err : strerror(-rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tool_usage_error(prog, EXIT_USAGE, "missing command (create, info or set)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("fusetape-image %s\n", FUSETAPE_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "create"))
		return cmd_create(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "set"))
		return cmd_set(argc - 1, argv + 1);
	tool_usage_error(prog, EXIT_USAGE, "unknown command '%s' (create, info or set)", argv[1]);
}
