// Command worker is Kernel Module Management's worker and gokmod's kmm
// and sign tools: KMM's pod runs "worker kmod load|unload CONFIG ...",
// "worker kmm load|unload|pull|preflight ..." (what "gokmod kmm ..." hands
// over to) takes gokmod kmm's words, "worker sign ..." (what "gokmod sign
// ..." hands over to) is the kernel's sign-file, and "worker preflight ..."
// is gokmod preflight (will these modules load on kernel X). It is a binary of its own
// because it links what modprobe's process should not: net/http, TLS,
// X.509, YAML, an image library and a zstd compressor.
package main

import (
	"os"

	"github.com/gokmod/modprobe/internal/cli"
)

// env is the process the worker runs in (see cli.Env).
type env = cli.Env

func main() {
	e := cli.ProcessEnv()
	ctx, stop := cli.WatchSignals()
	e.Ctx = ctx
	// As gokmod's own tools do, the worker prints its error at a signal
	// and exits with status 1, as KMM's worker does.
	os.Exit(stop.Exit(run(e, os.Args), false))
}

// run runs argv: "sign" or "preflight" as the first argument (gokmod
// sign's or preflight's words, which gokmod hands over with its own
// argv[0]), or "kmm" (gokmod kmm's)
// or none of it, then kmm's subcommands.
func run(e *env, argv []string) int {
	args := argv[1:]
	if len(args) > 0 && args[0] == "sign" {
		return runSign(e, argv[0], args[1:])
	}
	if len(args) > 0 && args[0] == "preflight" {
		return runPreflight(e, argv[0], args[1:])
	}
	if len(args) > 0 && args[0] == "kmm" {
		args = args[1:]
	}
	return runKMM(e, argv[0], args)
}
