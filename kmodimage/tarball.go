package kmodimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gokmod/modprobe/internal/fileio"
)

// openTarball reads the single image of the tarball at path, opening it
// as a regular file only (a FIFO would block). go-containerregistry reads
// the tarball's manifest.json and config whole: they are checked against
// MaxManifestSize first.
func openTarball(p string) (v1.Image, error) {
	if p == "" {
		return nil, fmt.Errorf("no tarball path after %q", tarballPrefix)
	}
	if err := checkTarball(p); err != nil {
		return nil, err
	}
	return tarball.Image(func() (io.ReadCloser, error) { return openRegular(p) }, nil)
}

// checkTarball checks that the manifest.json of the tarball at p, and the
// config of its one image, are at most MaxManifestSize bytes.
func checkTarball(p string) error {
	b, err := tarballFile(p, "manifest.json", map[string]bool{})
	if err != nil || b == nil {
		return err // a missing manifest.json is go-containerregistry's to report
	}
	var m []struct{ Config string }
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return nil // likewise a bad one, or one of several images
	}
	_, err = tarballFile(p, m[0].Config, map[string]bool{})
	return err
}

// tarballFile returns the content of the file name in the tarball at p
// (nil if there is none), following links as go-containerregistry does:
// the first member of that name counts. A file over MaxManifestSize is
// refused by its header.
func tarballFile(p, name string, visited map[string]bool) ([]byte, error) {
	name = path.Clean(name)
	if visited[name] {
		return nil, fmt.Errorf("%s in the tarball: link cycle", name)
	}
	visited[name] = true
	f, err := fileio.OpenRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f) // skips the bodies by seeking
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if path.Clean(hdr.Name) != name {
			continue
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			return tarballFile(p, path.Join(path.Dir(name), path.Clean(hdr.Linkname)), visited)
		}
		if hdr.Size > MaxManifestSize {
			return nil, fmt.Errorf("%s in the tarball: %w: %d bytes, over the limit of %d", name, ErrTooLarge, hdr.Size, MaxManifestSize)
		}
		return fileio.ReadAllBounded(tr, MaxManifestSize)
	}
}
