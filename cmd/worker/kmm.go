package main

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gokmod/modprobe/internal/cli"
	"github.com/gokmod/modprobe/internal/getopt"
	"github.com/gokmod/modprobe/kmodimage"
)

// kmm's long options.
const (
	optFirmwarePath = 1 + iota
	optSharedDir
	optKernel
	optPull
	optHostRoot
	optImage
	optDir
	optInsecure
	optDirName
	optFirmware
	optHostModules
	optCache
	optPullTimeout
	optRegistryCA
	optSkipVerify
	optDest
	optKey
	optCert
	optHash
	optBaseDir
	optSymvers
)

// kmmLong returns the options of gokmod kmm's subcommands.
func kmmLong() []getopt.Option {
	return []getopt.Option{
		{Name: "firmware-path", HasArg: getopt.RequiredArgument, Val: optFirmwarePath},
		{Name: "shared-dir", HasArg: getopt.RequiredArgument, Val: optSharedDir},
		{Name: "kernel", HasArg: getopt.RequiredArgument, Val: optKernel},
		{Name: "pull", Val: optPull},
		{Name: "host-root", HasArg: getopt.RequiredArgument, Val: optHostRoot},
		{Name: "image", HasArg: getopt.RequiredArgument, Val: optImage},
		{Name: "dir", HasArg: getopt.RequiredArgument, Val: optDir},
		{Name: "insecure", Val: optInsecure},
		{Name: "dirname", HasArg: getopt.RequiredArgument, Val: optDirName},
		{Name: "firmware", HasArg: getopt.RequiredArgument, Val: optFirmware},
		{Name: "host-modules", HasArg: getopt.RequiredArgument, Val: optHostModules},
		{Name: "cache", HasArg: getopt.RequiredArgument, Val: optCache},
		{Name: "pull-timeout", HasArg: getopt.RequiredArgument, Val: optPullTimeout},
		{Name: "registry-ca", HasArg: getopt.RequiredArgument, Val: optRegistryCA},
		{Name: "insecure-skip-tls-verify", Val: optSkipVerify},
		{Name: "dest", HasArg: getopt.RequiredArgument, Val: optDest},
		{Name: "key", HasArg: getopt.RequiredArgument, Val: optKey},
		{Name: "cert", HasArg: getopt.RequiredArgument, Val: optCert},
		{Name: "hash", HasArg: getopt.RequiredArgument, Val: optHash},
		{Name: "basedir", HasArg: getopt.RequiredArgument, Val: optBaseDir},
		{Name: "symvers", HasArg: getopt.RequiredArgument, Val: optSymvers},
		{Name: "help", Val: 'h'},
	}
}

// kmmCmd holds the options of one gokmod kmm run.
type kmmCmd struct {
	e                               *env
	firmwarePath, sharedDir, kernel string
	pull, insecure                  bool
	hostRoot, image, dir, dirName   string
	firmware, hostModules, cache    string
	pullTimeout                     time.Duration
	pullTimeoutSet                  bool // --pull-timeout was given
	registryCAs                     []string
	skipVerify                      bool
	dest, key, hash                 string   // kmm sign's
	baseDir, symvers                string   // kmm preflight's target
	certs                           []string // --cert: sign's one, preflight's certificates
	operands                        []string
}

// runKMM is gokmod kmm: KMM's worker (load, unload) and image pull.
func runKMM(e *env, argv0 string, args []string) int {
	c := &kmmCmd{e: e, pullTimeout: kmodimage.DefaultPullTimeout}
	p := getopt.New(argv0, args, "h", kmmLong(), e.Stderr)
	for o, arg := range p.Options() {
		switch o {
		case optFirmwarePath:
			c.firmwarePath = arg
		case optSharedDir:
			c.sharedDir = arg
		case optKernel:
			c.kernel = arg
		case optPull:
			c.pull = true
		case optHostRoot:
			c.hostRoot = arg
		case optImage:
			c.image = arg
		case optDir:
			c.dir = arg
		case optInsecure:
			c.insecure = true
		case optDirName:
			c.dirName = arg
		case optFirmware:
			c.firmware = arg
		case optHostModules:
			c.hostModules = arg
		case optCache:
			c.cache = arg
		case optPullTimeout:
			d, err := time.ParseDuration(arg)
			if err != nil || d <= 0 {
				fmt.Fprintf(e.Stderr, "kmm: invalid --pull-timeout %q: want a positive duration such as 90s or 10m\n", arg)
				return 1
			}
			c.pullTimeout, c.pullTimeoutSet = d, true
		case optRegistryCA:
			c.registryCAs = append(c.registryCAs, arg)
		case optSkipVerify:
			c.skipVerify = true
		case optDest:
			c.dest = arg
		case optKey:
			c.key = arg
		case optHash:
			c.hash = arg
		case optBaseDir:
			c.baseDir = arg
		case optSymvers:
			c.symvers = arg
		case optCert:
			c.certs = append(c.certs, arg)
		case 'h':
			fmt.Fprintf(e.Stdout, kmmUsage, cli.UsageName(argv0, "kmm"))
			return 0
		default:
			return 1
		}
	}
	c.operands = p.Operands()
	// KMM's worker binary is run as "worker kmod load CONFIG ...": a
	// link named worker, or gokmod kmm kmod load, takes the same words.
	if len(c.operands) > 0 && c.operands[0] == "kmod" {
		c.operands = c.operands[1:]
	}
	if len(c.operands) == 0 {
		fmt.Fprintf(e.Stderr, "kmm: missing subcommand (load, unload, pull, sign or preflight). See -h.\n")
		return 1
	}
	// KMM's worker stops on SIGTERM: the context ends (see signals.go),
	// and the pull or the load stops before the next step.
	ctx := e.Context()
	if c.operands[0] == "preflight" {
		return c.preflight(ctx)
	}
	var err error
	switch sub := c.operands[0]; sub {
	case "load", "unload":
		err = c.worker(ctx, sub == "load")
	case "pull":
		err = c.pullImage(ctx)
	case "sign":
		err = c.signImage(ctx)
	default:
		err = fmt.Errorf("unknown subcommand %q (want load, unload, pull, sign or preflight)", sub)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "kmm: %v\n", e.Explain(err))
		return 1
	}
	return 0
}

const kmmUsage = `Usage:
	%[1]s load CONFIG [--firmware-path DIR] [--shared-dir DIR] [--kernel RELEASE] [--pull [--cache DIR] [--pull-timeout DURATION] [--registry-ca FILE]...] [--host-modules DIR]
	%[1]s unload CONFIG [--firmware-path DIR] [--shared-dir DIR] [--kernel RELEASE]
	%[1]s pull --image REF --kernel RELEASE --dir DIR [--insecure | --insecure-skip-tls-verify] [--registry-ca FILE]... [--dirname DIR] [--firmware DIR] [--host-modules DIR] [--pull-timeout DURATION]
	%[1]s sign --image UNSIGNED --dest REF --key FILE --cert FILE [--kernel RELEASE] [--hash ALGO] [--insecure | --insecure-skip-tls-verify] [--registry-ca FILE]... [--pull-timeout DURATION] FILE...
	%[1]s preflight --image REF --kernel RELEASE --basedir DIR [--symvers FILE] [--cert FILE]... [--insecure | --insecure-skip-tls-verify] [--registry-ca FILE]... [--dirname DIR] [--pull-timeout DURATION]
Kernel Module Management's worker: load and unload read the worker's
configuration (/etc/kmm-worker/config.yaml) and load or unload the Module's
modules from the image files under the shared directory (default /tmp);
pull extracts a kmod image's modules (DIRNAME/lib/modules/RELEASE) and
firmware into a directory; an image without depmod's indexes is indexed
with gokmod's depmod (by pull, load --pull and load); preflight pulls
them into a temporary directory and says whether they will load on the
kernel whose module tree is BASEDIR/lib/modules/RELEASE, as gokmod
preflight does (exit 1 when one will not, 2 on a usage error). sign is KMM's sign
build without a build pod: it pulls the unsigned image, signs the FILEs
(KMM's filesToSign, absolute paths in the image; ${KERNEL_FULL_VERSION}
and KMM's other variables expanded for --kernel; .ko.xz, .ko.gz and .ko.zst
recompressed) with the key and certificate files (as KMM mounts its
keySecret and certSecret; KBUILD_SIGN_PIN decrypts the key), and pushes to
--dest the unsigned image's layers plus one layer of the signed files at
the same paths; it prints the pushed image as REPO@DIGEST (the worker
binary takes it as "worker kmm sign": "worker sign" is sign-file). The configuration's
modprobe.modprobedDir (modprobe.d files shipped in the image) configures
load and unload; its insecurePull and registryTLS apply to load --pull.
KMM's configuration has no CA bundle: give one with --registry-ca. Every manifest and
layer is checked against its digest before anything is moved into place,
cached or loaded. As KMM runs its worker, "worker kmod load CONFIG ..." (a
link named worker) and "%[1]s kmod load CONFIG ..." work too.

Options:
	    --firmware-path=DIR   Copy firmware to DIR and set firmware_class.path
	    --shared-dir=DIR      Where the image's files are (default /tmp)
	    --kernel=RELEASE      The kernel release (default: the running kernel's)
	    --pull                Pull the configuration's image into the shared
	                          directory first
	    --cache=DIR           With --pull, keep the image's files in DIR by
	                          digest and load from there
	    --pull-timeout=DURATION
	                          Give up a pull that takes longer (default 10m)
	    --host-root=DIR       The root of the host's module tree, for in-tree
	                          removal (default /)
	    --image=REF           An image: a registry reference, oci:DIR[:TAG] or
	                          tarball:FILE
	    --dir=DIR             Where pull writes
	    --insecure            Pull over plain HTTP or unverified TLS
	    --dirname=DIR         The image's module root (default /opt)
	    --firmware=DIR        The image's firmware directory, extracted too
	    --dest=REF            Where sign pushes the signed image
	    --key=FILE            sign's private key (PEM or DER)
	    --cert=FILE           sign's X.509 certificate (PEM or DER); for
	                          preflight, a certificate the target trusts
	                          (repeatable)
	    --hash=ALGO           sign's digest: sha256 (KMM's, the default),
	                          sha384 or sha512
	    --host-modules=DIR    Allow symbolic links into DIR (KMM's
	                          /host/lib/modules link)
	    --basedir=DIR         preflight: the target's root (its modules under
	                          DIR/lib/modules/RELEASE)
	    --symvers=FILE        preflight: the target's Module.symvers
	-h, --help                Print this help

SIGTERM or SIGINT stops it after the step in flight (a module whose
insertion has begun goes in): it prints its error and exits with status 1.
`

// worker is kmm load and kmm unload.
func (c *kmmCmd) worker(ctx context.Context, load bool) error {
	if len(c.operands) != 2 {
		return fmt.Errorf("%s takes one configuration file", c.operands[0])
	}
	switch {
	case c.pullTimeoutSet && !load:
		return fmt.Errorf("unload takes no --pull-timeout: it pulls nothing")
	case c.pullTimeoutSet && !c.pull:
		return fmt.Errorf("load takes --pull-timeout only with --pull: without it, it pulls nothing")
	case len(c.registryCAs) > 0 && (!load || !c.pull):
		return fmt.Errorf("%s takes --registry-ca only with load --pull: without it, it pulls nothing", c.operands[0])
	case c.skipVerify:
		return fmt.Errorf("%s takes no --insecure-skip-tls-verify: the configuration's registryTLS says it", c.operands[0])
	}
	// The file may be a device that waits: a signal ends the wait.
	cfg, err := cli.Interruptible(ctx, func() (*kmodimage.ModuleConfig, error) { return kmodimage.ReadConfig(c.operands[1]) })
	if err != nil {
		return err
	}
	w := &kmodimage.Worker{
		SharedDir:     c.sharedDir,
		FirmwarePath:  c.firmwarePath,
		KernelRelease: c.kernel,
		Log:           func(s string) { fmt.Fprintln(c.e.Stdout, s) },
	}
	w.Options = c.e.LoaderOptions(w.Options)
	w.Options.RootDir = c.hostRoot
	if !load {
		return w.Unload(ctx, cfg)
	}
	if !c.pull {
		return w.Load(ctx, cfg)
	}
	pull, err := c.pullOptions(false)
	if err != nil {
		return err
	}
	w.SharedDir = cmp.Or(c.sharedDir, kmodimage.DefaultSharedDir)
	return w.PullAndLoad(ctx, cfg, kmodimage.PullLoadOptions{Pull: pull, Cache: c.cache, HostModules: c.hostModules})
}

// pullOptions returns the registry options of the command line: the
// pull timeout, the CA bundles and, with insecure, --insecure and
// --insecure-skip-tls-verify.
func (c *kmmCmd) pullOptions(insecure bool) (kmodimage.PullOptions, error) {
	opts := kmodimage.PullOptions{Timeout: c.pullTimeout}
	if insecure {
		opts.Insecure, opts.InsecureSkipTLSVerify = c.insecure, c.skipVerify
	}
	if len(c.registryCAs) > 0 {
		pool, err := kmodimage.LoadCABundle(c.registryCAs...)
		if err != nil {
			return opts, err
		}
		opts.RootCAs = pool
	}
	return opts, nil
}

// pullImage is kmm pull.
func (c *kmmCmd) pullImage(ctx context.Context) error {
	switch {
	case len(c.operands) != 1:
		return fmt.Errorf("pull takes no arguments, only options")
	case c.image == "" || c.kernel == "" || c.dir == "":
		return fmt.Errorf("pull needs --image, --kernel and --dir")
	}
	dirName := cmp.Or(c.dirName, kmodimage.DefaultDirName)
	opts := kmodimage.ExtractOptions{
		DirName:       dirName,
		KernelVersion: c.kernel,
		FirmwarePath:  c.firmware,
		HostModules:   c.hostModules,
		Index:         true,
	}
	pull, err := c.pullOptions(true)
	if err != nil {
		return err
	}
	if _, err := kmodimage.PullExtract(ctx, c.image, c.dir, kmodimage.PullExtractOptions{Pull: pull, Extract: opts}); err != nil {
		return err
	}
	if err := kmodimage.CheckLayout(c.dir, dirName, c.kernel); err != nil {
		return err
	}
	fmt.Fprintf(c.e.Stdout, "%s\n", filepath.Join(c.dir, dirName, "lib/modules", c.kernel))
	return nil
}

// signImage is kmm sign.
func (c *kmmCmd) signImage(ctx context.Context) error {
	switch {
	case len(c.operands) < 2:
		return fmt.Errorf("sign takes the files to sign (KMM's filesToSign)")
	case c.image == "" || c.dest == "" || c.key == "" || len(c.certs) != 1:
		return fmt.Errorf("sign needs --image, --dest, --key and --cert")
	}
	signer, err := loadSigner(c.e, cmp.Or(c.hash, "sha256"), c.key, c.certs[0], false)
	if err != nil {
		return err
	}
	pull, err := c.pullOptions(true)
	if err != nil {
		return err
	}
	res, err := kmodimage.SignImage(ctx, c.image, c.dest, kmodimage.SignOptions{
		Pull:          pull,
		Signer:        signer,
		FilesToSign:   c.operands[1:],
		KernelVersion: c.kernel,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.e.Stdout, res.Ref)
	return nil
}
