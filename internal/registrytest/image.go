package registrytest

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one entry of a layer's tar archive.
type Entry struct {
	// Name is the entry's name, written as given (hostile names too).
	Name string
	// Type is the tar type flag (tar.TypeReg, tar.TypeDir, ...); zero
	// means tar.TypeReg.
	Type byte
	// Mode is the permission bits; zero means 0644 for files, 0755 for
	// directories and 0777 for symlinks.
	Mode int64
	// Data is a regular file's body.
	Data []byte
	// Linkname is the target of a symlink or hard link.
	Linkname string
	// Devmajor and Devminor are a device node's numbers.
	Devmajor, Devminor int64
	// Size, if nonzero, overrides len(Data) in the header, to fake huge or
	// truncated files: the layer then ends right after Data, so such an
	// entry must be the layer's last.
	Size int64
}

// Image returns an image with one layer per argument, each a tar archive
// of its entries in order, on top of an empty image.
func Image(tb testing.TB, layers ...[]Entry) v1.Image {
	tb.Helper()
	img := v1.Image(empty.Image)
	for i, entries := range layers {
		b, err := Tar(entries)
		if err != nil {
			tb.Fatalf("registrytest: layer %d: %v", i, err)
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			tb.Fatalf("registrytest: layer %d: %v", i, err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			tb.Fatalf("registrytest: layer %d: %v", i, err)
		}
	}
	return img
}

// Tar returns the tar archive of entries. An entry whose Size is over
// len(Data) ends the archive, truncated; an entry after it is an error.
func Tar(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, e := range entries {
		h := header(e)
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, err
		}
		if h.Size > int64(len(e.Data)) {
			if i != len(entries)-1 {
				return nil, errors.New("an entry with Size over len(Data) must be the last of its layer")
			}
			return buf.Bytes(), nil // truncated: no padding, no end blocks
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// epochSeconds is the time of every entry, so that images are
// reproducible.
const epochSeconds = 1700000000

// header returns e's tar header.
func header(e Entry) *tar.Header {
	h := &tar.Header{
		Name:     e.Name,
		Typeflag: e.Type,
		Mode:     e.Mode,
		Linkname: e.Linkname,
		Devmajor: e.Devmajor,
		Devminor: e.Devminor,
		ModTime:  time.Unix(epochSeconds, 0),
		Format:   tar.FormatPAX,
	}
	if h.Typeflag == 0 {
		h.Typeflag = tar.TypeReg
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(e.Data))
		if e.Size != 0 {
			h.Size = e.Size
		}
	}
	if h.Mode == 0 {
		switch h.Typeflag {
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeSymlink:
			h.Mode = 0o777
		default:
			h.Mode = 0o644
		}
	}
	return h
}
