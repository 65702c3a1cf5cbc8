/*
 * liblzma side of gokmod's xz benchmark (bench/xz.go compiles it at run
 * time with gcc against liblzma-dev, and runs it with the host's liblzma
 * and, through Debian 13's loader and libraries, with Debian 13's).
 *
 *   xzcpu LISTFILE
 *
 * Reads every file named in LISTFILE (one path a line) into memory and
 * prints "ready VERSION FILES INBYTES", VERSION being the liblzma it runs
 * with (lzma_version_string). Then, for every line read on stdin:
 *
 *   verify  decodes every file and prints "verify OUTBYTES HASH", HASH
 *           the 64-bit FNV-1a of all the outputs in order, in hex;
 *   pass    decodes every file (single-threaded lzma_stream_buffer_decode
 *           into one reused buffer) and prints
 *           "pass WALLNS CPUNS OUTBYTES": only the loop is timed,
 *           CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID.
 *
 * The caller drives the passes so that it can alternate them with its
 * own decoder's.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lzma.h>

struct file {
	uint8_t *data;
	size_t size;
};

static struct file *files;
static size_t nfiles;
static uint8_t *out;
static size_t outcap = 64 << 20;

static long long now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int read_file(const char *path, struct file *f)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		perror(path);
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		if (!buf) {
			fprintf(stderr, "%s: out of memory\n", path);
			fclose(fp);
			return -1;
		}
		size_t r = fread(buf + n, 1, cap - n, fp);
		if (r == 0)
			break;
		n += r;
	}
	if (ferror(fp)) {
		perror(path);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	f->data = buf;
	f->size = n;
	return 0;
}

/* decode decodes file i into out, growing out when it is too small; it
 * returns the output size, or -1 after printing an error. */
static long long decode(size_t i, const char *name)
{
	for (;;) {
		uint64_t memlimit = UINT64_MAX;
		size_t in_pos = 0, out_pos = 0;
		lzma_ret ret = lzma_stream_buffer_decode(&memlimit, 0, NULL, files[i].data, &in_pos,
							 files[i].size, out, &out_pos, outcap);
		if (ret == LZMA_OK)
			return (long long)out_pos;
		if (ret != LZMA_BUF_ERROR || out_pos < outcap) {
			fprintf(stderr, "%s: liblzma error %d\n", name, (int)ret);
			return -1;
		}
		outcap *= 2;
		free(out);
		out = malloc(outcap);
		if (!out) {
			fprintf(stderr, "out of memory\n");
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s LISTFILE\n", argv[0]);
		return 2;
	}
	FILE *list = fopen(argv[1], "r");
	if (!list) {
		perror(argv[1]);
		return 1;
	}
	char **names = NULL;
	size_t cap = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	unsigned long long inbytes = 0;
	while ((len = getline(&line, &linecap, list)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0)
			continue;
		if (nfiles == cap) {
			cap = cap ? 2 * cap : 1024;
			files = realloc(files, cap * sizeof *files);
			names = realloc(names, cap * sizeof *names);
			if (!files || !names) {
				fprintf(stderr, "out of memory\n");
				return 1;
			}
		}
		names[nfiles] = strdup(line);
		if (read_file(line, &files[nfiles]) < 0)
			return 1;
		inbytes += files[nfiles].size;
		nfiles++;
	}
	fclose(list);
	out = malloc(outcap);
	if (!out) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	printf("ready %s %zu %llu\n", lzma_version_string(), nfiles, inbytes);
	fflush(stdout);

	char cmd[64];
	while (fgets(cmd, sizeof cmd, stdin)) {
		if (strcmp(cmd, "verify\n") == 0) {
			unsigned long long total = 0;
			uint64_t h = 14695981039346656037ULL;
			for (size_t i = 0; i < nfiles; i++) {
				long long n = decode(i, names[i]);
				if (n < 0)
					return 1;
				for (long long j = 0; j < n; j++) {
					h ^= out[j];
					h *= 1099511628211ULL;
				}
				total += (unsigned long long)n;
			}
			printf("verify %llu %016llx\n", total, (unsigned long long)h);
		} else if (strcmp(cmd, "pass\n") == 0) {
			unsigned long long total = 0;
			long long w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			for (size_t i = 0; i < nfiles; i++) {
				long long n = decode(i, names[i]);
				if (n < 0)
					return 1;
				total += (unsigned long long)n;
			}
			long long c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
			printf("pass %lld %lld %llu\n", w1 - w0, c1 - c0, total);
		} else {
			fprintf(stderr, "unknown command %s", cmd);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
