package kmodimage

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// PullExtractOptions are the options of PullExtract.
type PullExtractOptions struct {
	// Pull are the registry's options. Its Timeout bounds the whole pull,
	// the extraction included.
	Pull PullOptions
	// Extract selects the image's parts and bounds them.
	Extract ExtractOptions
	// Cache, if set, is a Cache directory: the image's files are kept
	// there by digest (a pod restart finds them) and the returned
	// directory is the cache entry's.
	Cache string
}

// PullExtract opens the image ref (OpenImage) and extracts it into dir
// (Extract), or through the cache when opts.Cache is set, and returns the
// directory holding the image's files. The pull ends after
// opts.Pull.Timeout (DefaultPullTimeout when zero): the transport's
// deadline ends every request and body read, and its error names the
// timeout; ctx's own deadline, a second later, is only a backstop.
func PullExtract(ctx context.Context, ref, dir string, opts PullExtractOptions) (string, error) {
	timeout := cmp.Or(opts.Pull.Timeout, DefaultPullTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	pull := opts.Pull
	pull.Timeout = timeout
	img, err := OpenImage(ctx, ref, pull)
	if err != nil {
		return "", err
	}
	if opts.Cache != "" {
		return Cache{Dir: opts.Cache}.Extract(ctx, img, opts.Extract)
	}
	if dir == "" {
		return "", errors.New("kmodimage: pull: no directory to extract into")
	}
	if err := Extract(ctx, img, dir, opts.Extract); err != nil {
		return "", err
	}
	return dir, nil
}

// PullLoadOptions are the options of Worker.PullAndLoad.
type PullLoadOptions struct {
	// Pull are the registry's options; the configuration's insecurePull
	// and registryTLS are added to them (a setting of either is kept).
	Pull PullOptions
	// Cache, if set, keeps the image's files in this Cache directory by
	// digest, and the worker loads from there; otherwise they are
	// extracted into the worker's SharedDir.
	Cache string
	// HostModules, if set, is the directory symbolic links of the image
	// may point into (KMM's /host/lib/modules).
	HostModules string
}

// PullAndLoad does the whole of KMM's worker's load in one call: it
// pulls the configuration's containerImage (PullExtract: its module
// directory dirName/lib/modules/kernelVersion, its firmwarePath and its
// modprobedDir, checked against their digests and indexed with gokmod's
// depmod when the image has no indexes) into SharedDir or the cache,
// then loads from there (Load). The configuration is checked (Validate)
// before anything is pulled. w is not changed.
func (w *Worker) PullAndLoad(ctx context.Context, cfg *ModuleConfig, opts PullLoadOptions) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	pull := opts.Pull
	pull.Insecure = pull.Insecure || cfg.InsecurePull
	if t := cfg.RegistryTLS; t != nil {
		pull.Insecure = pull.Insecure || t.Insecure
		pull.InsecureSkipTLSVerify = pull.InsecureSkipTLSVerify || t.InsecureSkipTLSVerify
	}
	x := cfg.extractOptions()
	x.HostModules = opts.HostModules
	x.Index = true
	dir, err := PullExtract(ctx, cfg.ContainerImage, w.sharedDir(), PullExtractOptions{Pull: pull, Extract: x, Cache: opts.Cache})
	if err != nil {
		return err
	}
	loader := *w
	loader.SharedDir = dir
	return loader.Load(ctx, cfg)
}
