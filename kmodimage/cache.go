package kmodimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Cache keeps extracted images by digest, so that a worker that runs again (KMM restarts its pods until they succeed) does not fetch and write the same image twice.
//
// Dir holds one directory per image digest and options, named
// "ALGORITHM-HEX-OPTIONSHASH", with a marker file written last; a directory
// without the marker is not used, and is replaced by the next extraction.
// Nothing removes old entries: that is up to the owner of Dir.
type Cache struct {
	// Dir is the cache's directory, created if missing.
	Dir string
}

// cacheMarker names the file that marks a complete cache entry. It is
// written into the entry before the entry is renamed into place.
const cacheMarker = ".gokmod-cache-complete"

// cacheTmpPrefix starts the names of entries being extracted.
const cacheTmpPrefix = ".tmp-"

// Extract returns a directory holding img's files as Extract writes them (the directory is the dst), extracting them first unless an earlier call did so for the same image digest and options. Concurrent calls (goroutines and processes) are safe: extraction goes to a temporary directory renamed into place.
//
// The options that select files (DirName, KernelVersion, FirmwarePath,
// HostModules) are part of the key; the limits are not. Besides the parts
// of the image, the directory holds the marker file
// ".gokmod-cache-complete".
func (c Cache) Extract(ctx context.Context, img v1.Image, opts ExtractOptions) (string, error) {
	if c.Dir == "" {
		return "", errors.New("kmodimage cache: empty Dir")
	}
	p, err := newPlan(opts)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("kmodimage cache: image digest: %w", err)
	}
	key := cacheKey(digest, p)
	final := filepath.Join(c.Dir, key)
	if complete(final) {
		return final, nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.Dir, cacheTmpPrefix+key+"-")
	if err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := p.extract(ctx, img, tmp); err != nil {
		return "", err
	}
	if err := writeMarker(tmp, digest, p); err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	for range 3 {
		err = os.Rename(tmp, final)
		if err == nil || complete(final) {
			return final, nil // ours, or another caller's equal one
		}
		// An incomplete entry from elsewhere: replace it.
		if rmErr := os.RemoveAll(final); rmErr != nil {
			return "", fmt.Errorf("kmodimage cache: removing incomplete %s: %w", final, rmErr)
		}
	}
	return "", fmt.Errorf("kmodimage cache: %w", err)
}

// cacheKey names the cache entry of the image with digest d extracted by p.
func cacheKey(d v1.Hash, p plan) string {
	h := sha256.New()
	for _, s := range p.keyFields() {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	return fmt.Sprintf("%s-%s-%s", d.Algorithm, d.Hex, hex.EncodeToString(h.Sum(nil))[:16])
}

// keyFields returns what of p selects the extracted files.
func (p plan) keyFields() []string {
	f := []string{p.modules, p.kernel, p.hostModules}
	for _, pt := range p.parts[1:] {
		f = append(f, pt.rel)
	}
	return f
}

// complete reports whether dir is a complete cache entry.
func complete(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, cacheMarker))
	return err == nil && fi.Mode().IsRegular()
}

// writeMarker writes the marker of a complete entry into dir, describing
// what the entry holds.
func writeMarker(dir string, d v1.Hash, p plan) error {
	b, err := json.MarshalIndent(struct {
		Digest string   `json:"digest"`
		Fields []string `json:"fields"`
	}{d.String(), p.keyFields()}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, cacheMarker), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
