/*
 * xzbench: decodes every .xz file named on standard input (one path a
 * line) with liblzma's single-call decoder into a buffer of the size the
 * index states, ROUNDS times (argv[1], default 1), after reading them all
 * into memory, and prints the decompressed bytes and the user + system
 * CPU seconds of the decoding. It is the reference
 * scripts/bench-decompress.sh compares internal/modfile's xz decoder
 * with, run with whichever liblzma the loader finds.
 */
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1;
	size_t n = 0, cap = 0;
	unsigned char **data = NULL;
	size_t *size = NULL, *outsize = NULL;
	char line[4096];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		FILE *f = fopen(line, "rb");
		if (!f) { perror(line); return 1; }
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			data = realloc(data, cap * sizeof *data);
			size = realloc(size, cap * sizeof *size);
			outsize = realloc(outsize, cap * sizeof *outsize);
		}
		data[n] = malloc(len);
		if (fread(data[n], 1, len, f) != (size_t)len) { perror(line); return 1; }
		fclose(f);
		size[n] = len;
		/* The output size from the index, as lzma_index_buffer_decode would
		 * give it; a generous bound is simpler: decode once to learn it. */
		size_t cap_out = len * 16 + 65536, in_pos = 0, out_pos = 0;
		unsigned char *out = NULL;
		for (;;) {
			out = realloc(out, cap_out);
			uint64_t memlimit = UINT64_MAX;
			in_pos = out_pos = 0;
			lzma_ret r = lzma_stream_buffer_decode(&memlimit, 0, NULL, data[n], &in_pos, len, out, &out_pos, cap_out);
			if (r == LZMA_OK) break;
			if (r == LZMA_BUF_ERROR) { cap_out *= 2; continue; }
			fprintf(stderr, "%s: liblzma error %d\n", line, r);
			return 1;
		}
		free(out);
		outsize[n] = out_pos;
		n++;
	}
	size_t total = 0, maxout = 0;
	for (size_t i = 0; i < n; i++) {
		total += outsize[i];
		if (outsize[i] > maxout) maxout = outsize[i];
	}
	double t0 = cpu();
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			unsigned char *out = malloc(outsize[i]);
			size_t in_pos = 0, out_pos = 0;
			uint64_t memlimit = UINT64_MAX;
			if (lzma_stream_buffer_decode(&memlimit, 0, NULL, data[i], &in_pos, size[i], out, &out_pos, outsize[i]) != LZMA_OK) {
				fprintf(stderr, "decode failed\n");
				return 1;
			}
			free(out);
		}
	}
	double t = cpu() - t0;
	printf("liblzma %s: %zu files, %zu bytes x %d rounds, %.3f s CPU, %.3f cpu-ns/B\n",
	       lzma_version_string(), n, total, rounds, t, t * 1e9 / ((double)total * rounds));
	return 0;
}
