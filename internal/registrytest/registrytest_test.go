package registrytest_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gokmod/modprobe/internal/registrytest"
)

// checkPull pulls ref with go-containerregistry and checks that it is
// img.
func checkPull(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	wd, _ := img.Digest()
	if gd != wd {
		t.Errorf("pulled %s, stored %s", gd, wd)
	}
}

func TestStartPush(t *testing.T) {
	reg := registrytest.Start(t)
	img := registrytest.Image(t, []registrytest.Entry{{Name: "a", Data: []byte("a")}})
	ref := reg.Push(t, "some/repo", "v1", img)
	if want := reg.Host + "/some/repo:v1"; ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	checkPull(t, ref, img)

	resp, err := http.Get("http://" + reg.Host + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var catalog struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&catalog); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(catalog.Repositories, []string{"some/repo"}) {
		t.Errorf("catalog = %q", catalog.Repositories)
	}
}

func TestTwoRegistries(t *testing.T) {
	a, b := registrytest.Start(t), registrytest.Start(t)
	if a.Host == b.Host {
		t.Fatalf("both registries at %s", a.Host)
	}
}

func TestImage(t *testing.T) {
	img := registrytest.Image(t,
		[]registrytest.Entry{
			{Name: "d/", Type: tar.TypeDir},
			{Name: "d/f", Data: []byte("hello")},
			{Name: "d/x", Mode: 0o4755, Data: []byte("x")},
			{Name: "d/l", Type: tar.TypeSymlink, Linkname: "f"},
			{Name: "d/c", Type: tar.TypeChar, Devmajor: 1, Devminor: 3},
		},
		[]registrytest.Entry{{Name: "d/.wh.f"}},
	)
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	type got struct {
		name string
		typ  byte
		mode int64
		data string
		link string
		dev  int64
	}
	want := []got{
		{"d/", tar.TypeDir, 0o755, "", "", 0},
		{"d/f", tar.TypeReg, 0o644, "hello", "", 0},
		{"d/x", tar.TypeReg, 0o4755, "x", "", 0},
		{"d/l", tar.TypeSymlink, 0o777, "", "f", 0},
		{"d/c", tar.TypeChar, 0o644, "", "", 1},
	}
	for i, w := range want {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		b, _ := io.ReadAll(tr)
		if g := (got{h.Name, h.Typeflag, h.Mode, string(b), h.Linkname, h.Devmajor}); g != w {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("after the entries: %v", err)
	}
}

func TestTarTruncated(t *testing.T) {
	b, err := registrytest.Tar([]registrytest.Entry{
		{Name: "ok", Data: []byte("ok")},
		{Name: "huge", Data: []byte("start"), Size: 2 << 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4096 {
		t.Errorf("a truncated 2 GiB entry takes %d bytes", len(b))
	}
	tr := tar.NewReader(bytes.NewReader(b))
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	h, err := tr.Next()
	if err != nil || h.Size != 2<<30 {
		t.Fatalf("huge: %+v, %v", h, err)
	}
	if _, err := io.Copy(io.Discard, tr); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the huge body: %v, want io.ErrUnexpectedEOF", err)
	}

	_, err = registrytest.Tar([]registrytest.Entry{{Name: "cut", Size: 10}, {Name: "after"}})
	if err == nil {
		t.Error("an entry after a truncated one was accepted")
	}
}

func TestServe(t *testing.T) {
	srv := registrytest.Serve(t)
	b, err := registrytest.Tar([]registrytest.Entry{{Name: "a", Data: []byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	layer := registrytest.Layer(t, registrytest.Zstd, registrytest.Padded(b))
	img := registrytest.ImageOf(t, layer)
	ref := srv.Put(t, "some/repo", "v1", img)
	checkPull(t, ref, img)
	ld, _ := layer.Digest()
	blobURL := "http://" + srv.Host + "/v2/other/repo/blobs/" + ld.String()
	get := func() (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(blobURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	if resp, body := get(); resp.ContentLength != int64(len(body)) || !bytes.Equal(body, srv.Bytes(ld)) {
		t.Errorf("honest blob: Content-Length %d, %d bytes", resp.ContentLength, len(body))
	}
	srv.SetFault(ld.String(), registrytest.Fault{Body: []byte("swapped"), NoLength: true})
	if resp, body := get(); resp.ContentLength != -1 || string(body) != "swapped" {
		t.Errorf("faulty blob: Content-Length %d, %q", resp.ContentLength, body)
	}
	srv.SetFault(ld.String(), registrytest.Fault{RedirectLoop: true})
	n := srv.Requests()
	if _, err := http.Get(blobURL); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	if d := srv.Requests() - n; d != 10 {
		t.Errorf("redirect loop: %d requests, want net/http's 10", d)
	}
	srv.ClearFaults()
	if resp, _ := get(); resp.StatusCode != http.StatusOK {
		t.Errorf("after ClearFaults: %s", resp.Status)
	}
}
