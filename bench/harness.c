/*
 * libkmod side of gokmod's benchmark (bench/main.go compiles it at run
 * time against libkmod-dev).
 *
 *   harness MODDIR NAMESFILE PASSES [CONFIG...]
 *
 * Opens one kmod context on MODDIR with the given modprobe.d paths (none
 * given: an empty configuration), loads the indexes, then for each pass
 * resolves every name of NAMESFILE (one per line) with
 * kmod_module_new_from_lookup and dry-runs each module it stands for with
 * kmod_module_probe_insert_module(KMOD_PROBE_DRY_RUN |
 * KMOD_PROBE_IGNORE_LOADED) and a print_action that only counts, as
 * modprobe --show-depends does. Pass 0 is a warm-up. Only the loop over
 * the names is timed (CLOCK_MONOTONIC). One line per pass on stdout:
 *
 *   pass N ns NANOSECONDS names N actions N errors N
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

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s MODDIR NAMESFILE PASSES [CONFIG...]\n", argv[0]);
		return 2;
	}
	const char *moddir = argv[1];
	int passes = atoi(argv[3]);

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

	/* argv[4..] are the configuration paths; none is an empty config. */
	const char **config = calloc((size_t)argc, sizeof(*config));
	for (int i = 4; i < argc; i++)
		config[i - 4] = argv[i];

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
	for (int pass = 0; pass <= passes; pass++) {
		unsigned long errors = 0;
		actions = 0;
		long long t0 = now_ns();
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
		long long t1 = now_ns();
		printf("pass %d ns %lld names %zu actions %lu errors %lu\n",
		       pass, t1 - t0, n, actions, errors);
		fflush(stdout);
	}
	kmod_unref(ctx);
	return 0;
}
