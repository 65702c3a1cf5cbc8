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

// tarballImage is the image of a `docker save` tarball. The tarball
// holds no digests of its own: go-containerregistry makes up the image's
// manifest from the layers' files (compressing each first when it is a
// plain tar archive), so that the manifest's layer digests say nothing
// of the files. Extract reads each layer's file as the tarball holds it,
// without go-containerregistry's compression, and checks its tar archive
// against the config's diff_id only.
type tarballImage struct {
	v1.Image
	path   string   // the tarball
	layers []string // the names of the layers' files in the tarball, in order
}

// openLayer opens the file of layer i in the tarball.
func (t *tarballImage) openLayer(i int) (io.ReadCloser, error) {
	if i >= len(t.layers) {
		return nil, fmt.Errorf("the tarball's manifest.json lists %d layers", len(t.layers))
	}
	_, rc, err := openTarballMember(t.path, t.layers[i], map[string]bool{})
	if err == nil && rc == nil {
		err = fmt.Errorf("%s: no such file in the tarball", t.layers[i])
	}
	return rc, err
}

// openTarball reads the single image of the tarball at path, opening it
// as a regular file only (a FIFO would block). go-containerregistry reads
// the tarball's manifest.json and config whole: they are checked against
// MaxManifestSize first.
func openTarball(p string) (v1.Image, error) {
	if p == "" {
		return nil, fmt.Errorf("no tarball path after %q", tarballPrefix)
	}
	layers, err := checkTarball(p)
	if err != nil {
		return nil, err
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return openRegular(p) }, nil)
	if err != nil {
		return nil, err
	}
	return &tarballImage{Image: img, path: p, layers: layers}, nil
}

// checkTarball checks that the manifest.json of the tarball at p, and the
// config of its one image, are at most MaxManifestSize bytes, and returns
// the names of the image's layer files that manifest.json lists.
func checkTarball(p string) ([]string, error) {
	b, err := tarballFile(p, "manifest.json")
	if err != nil || b == nil {
		return nil, err // a missing manifest.json is go-containerregistry's to report
	}
	var m []struct {
		Config string
		Layers []string
	}
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return nil, nil // likewise a bad one, or one of several images
	}
	if _, err := tarballFile(p, m[0].Config); err != nil {
		return nil, err
	}
	return m[0].Layers, nil
}

// tarballFile returns the content of the file name in the tarball at p
// (nil if there is none). A file over MaxManifestSize is refused by its
// header.
func tarballFile(p, name string) ([]byte, error) {
	hdr, rc, err := openTarballMember(p, name, map[string]bool{})
	if err != nil || rc == nil {
		return nil, err
	}
	defer rc.Close()
	if hdr.Size > MaxManifestSize {
		return nil, fmt.Errorf("%s in the tarball: %w: %d bytes, over the limit of %d", hdr.Name, ErrTooLarge, hdr.Size, MaxManifestSize)
	}
	return fileio.ReadAllBounded(rc, MaxManifestSize)
}

// openTarballMember opens the file name in the tarball at p, following
// links as go-containerregistry does: the first member of that name
// counts. It returns the member's header and a reader of its body, which
// the caller closes, or nothing if there is no such member.
func openTarballMember(p, name string, visited map[string]bool) (*tar.Header, io.ReadCloser, error) {
	name = path.Clean(name)
	if visited[name] {
		return nil, nil, fmt.Errorf("%s in the tarball: link cycle", name)
	}
	visited[name] = true
	f, err := fileio.OpenRegular(p)
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(f) // skips the bodies by seeking
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			f.Close()
			return nil, nil, nil
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		if path.Clean(hdr.Name) != name {
			continue
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			f.Close()
			return openTarballMember(p, path.Join(path.Dir(name), path.Clean(hdr.Linkname)), visited)
		}
		return hdr, struct {
			io.Reader
			io.Closer
		}{tr, f}, nil
	}
}
