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
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Cache keeps extracted images by digest, so that a worker that runs again (KMM restarts its pods until they succeed) does not fetch and write the same image twice.
//
// Dir holds one directory per image digest and options, named
// "ALGORITHM-HEX-OPTIONSHASH", with a marker file written last; a directory
// without the marker is not used, and is replaced by the next extraction.
// Nothing removes old entries: that is up to the owner of Dir, which must
// be writable by the worker alone.
//
// An entry holds what its name says, by construction: the digest in the
// name is the digest of the manifest bytes that the extraction then
// follows (read once, from the image Extract is given), and the
// extraction checks the config and every layer, to the last byte,
// against the descriptors in those bytes before it returns; only then is
// the marker, which records the digest, the options and the layers'
// digests, written and the entry renamed into place. An entry whose marker
// names another digest or other options, or that a gokmod without these
// checks wrote, is extracted again. A failed extraction leaves nothing in
// Dir.
type Cache struct {
	// Dir is the cache's directory, created if missing.
	Dir string
}

// cacheMarker names the file that marks a complete cache entry. It is
// written into the entry before the entry is renamed into place.
const cacheMarker = ".gokmod-cache-complete"

// cacheTmpPrefix starts the names of entries being extracted.
const cacheTmpPrefix = ".tmp-"

// cacheVersion is the marker's version: 2 since the layers are checked
// against their digests.
const cacheVersion = 2

// maxMarkerSize bounds the marker file read.
const maxMarkerSize = 1 << 20

// marker is the content of a complete entry's marker file.
type marker struct {
	Version int      `json:"version"`
	Digest  string   `json:"digest"`
	Fields  []string `json:"fields"`
	// Layers are the digests of the layers, each read to its end and
	// checked, and DiffIDs those of their tar archives.
	Layers  []string `json:"layers"`
	DiffIDs []string `json:"diffIDs"`
}

// Extract returns a directory holding img's files as Extract writes them (the directory is the dst), extracting them first unless an earlier call did so for the same image digest and options. Concurrent calls (goroutines and processes) are safe: extraction goes to a temporary directory renamed into place.
//
// The options that select files (DirName, KernelVersion, FirmwarePath,
// HostModules) are part of the key; the limits are not. Besides the parts
// of the image, the directory holds the marker file
// ".gokmod-cache-complete". An image whose content does not match its
// digests fails with an error wrapping ErrDigestMismatch, and nothing is
// cached.
func (c Cache) Extract(ctx context.Context, img v1.Image, opts ExtractOptions) (string, error) {
	if c.Dir == "" {
		return "", errors.New("kmodimage cache: empty Dir")
	}
	p, err := newPlan(opts)
	if err != nil {
		return "", err
	}
	im, err := readManifest(img)
	if err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	want := newMarker(im, p)
	key := cacheKey(im.digest, p)
	final := filepath.Join(c.Dir, key)
	if complete(final, want) {
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
	if err := p.extract(ctx, im, tmp); err != nil {
		return "", err
	}
	for _, d := range im.diffs {
		want.DiffIDs = append(want.DiffIDs, d.String())
	}
	if err := writeMarker(tmp, want); err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("kmodimage cache: %w", err)
	}
	for range 3 {
		err = os.Rename(tmp, final)
		if err == nil || complete(final, want) {
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
		if pt.what == modprobedWhat {
			// Named, so that it differs from a firmware path; the
			// keys of entries without one stay as they were.
			f = append(f, "modprobe.d:"+pt.rel)
			continue
		}
		f = append(f, pt.rel)
	}
	return f
}

// newMarker returns the marker of the entry of im extracted by p.
func newMarker(im *imageManifest, p plan) marker {
	m := marker{Version: cacheVersion, Digest: im.digest.String(), Fields: p.keyFields()}
	for _, l := range im.m.Layers {
		m.Layers = append(m.Layers, l.Digest.String())
	}
	return m
}

// complete reports whether dir is a complete cache entry with the marker
// want, but for its diff_ids, which only the extraction reads.
func complete(dir string, want marker) bool {
	b, err := fileio.ReadInput(filepath.Join(dir, cacheMarker), maxMarkerSize)
	if err != nil {
		return false
	}
	var got marker
	if err := json.Unmarshal(b, &got); err != nil {
		return false
	}
	return got.Version == want.Version && got.Digest == want.Digest &&
		slices.Equal(got.Fields, want.Fields) && slices.Equal(got.Layers, want.Layers)
}

// writeMarker writes the marker m of a complete entry into dir.
func writeMarker(dir string, m marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
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
