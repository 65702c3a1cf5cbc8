/*
 * libkmod side of gokmod's benchmark (bench/plan.go compiles it at run
 * time with gcc against libkmod-dev).
 *
 *   harness MODDIR NAMESFILE [CONFIG...]
 *
 * Opens one kmod context on MODDIR with the given modprobe.d paths (none
 * given: an empty configuration) and loads the indexes
 * (kmod_load_resources). Then, for every line "pass" read on stdin, it
 * resolves every name of NAMESFILE (one per line) with
 * kmod_module_new_from_lookup and dry-runs each module the name stands for
 * with kmod_module_probe_insert_module(KMOD_PROBE_DRY_RUN |
 * KMOD_PROBE_IGNORE_LOADED) and a print_action that only counts, as
 * modprobe --show-depends does, and prints one line:
 *
 *   pass NANOSECONDS CPUNANOSECONDS NAMES ACTIONS ERRORS
 *
 * Only the loop over the names is timed: wall time with CLOCK_MONOTONIC
 * and CPU time with CLOCK_PROCESS_CPUTIME_ID. The caller drives the passes
 * so that it can interleave them with its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libkmod.h>

static unsigned long actions;

static void count_action(struct kmod_module *m, bool install, const char *options)
{
	(void)m;
	(void)install;
	(void)options;
	actions++;
}

static void quiet(void *data, int priority, const char *file, int line,
		  const char *fn, const char *format, va_list args)
{
	(void)data, (void)priority, (void)file, (void)line, (void)fn;
	(void)format, (void)args;
}

static long long now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODDIR NAMESFILE [CONFIG...]\n", argv[0]);
		return 2;
	}
	const char *moddir = argv[1];

	FILE *f = fopen(argv[2], "r");
	if (f == NULL) {
		perror(argv[2]);
		return 1;
	}
	size_t n = 0, cap = 4096;
	char **names = malloc(cap * sizeof(*names));
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	while ((len = getline(&line, &linecap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (n == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(line);
	}
	fclose(f);
	free(line);

	/* argv[3..] are the configuration paths; none is an empty config. */
	const char **config = calloc((size_t)argc, sizeof(*config));
	for (int i = 3; i < argc; i++)
		config[i - 3] = argv[i];

	struct kmod_ctx *ctx = kmod_new(moddir, config);
	if (ctx == NULL) {
		fprintf(stderr, "kmod_new failed\n");
		return 1;
	}
	kmod_set_log_fn(ctx, quiet, NULL);
	int err = kmod_load_resources(ctx);
	if (err < 0) {
		fprintf(stderr, "kmod_load_resources: %s\n", strerror(-err));
		return 1;
	}

	const unsigned flags = KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED;
	char cmd[64];
	while (fgets(cmd, sizeof(cmd), stdin) != NULL) {
		if (strcmp(cmd, "pass\n") != 0) {
			fprintf(stderr, "harness: unknown command %s", cmd);
			return 2;
		}
		unsigned long errors = 0;
		actions = 0;
		long long c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		long long t0 = now_ns(CLOCK_MONOTONIC);
		for (size_t i = 0; i < n; i++) {
			struct kmod_list *list = NULL, *l;
			err = kmod_module_new_from_lookup(ctx, names[i], &list);
			if (err < 0 || list == NULL) {
				errors++;
				continue;
			}
			kmod_list_foreach(l, list) {
				struct kmod_module *mod = kmod_module_get_module(l);
				err = kmod_module_probe_insert_module(mod, flags, NULL, NULL, NULL,
								      count_action);
				if (err < 0)
					errors++;
				kmod_module_unref(mod);
			}
			kmod_module_unref_list(list);
		}
		long long t1 = now_ns(CLOCK_MONOTONIC);
		long long c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		printf("pass %lld %lld %zu %lu %lu\n", t1 - t0, c1 - c0, n, actions, errors);
		fflush(stdout);
	}
	kmod_unref(ctx);
	return 0;
}
