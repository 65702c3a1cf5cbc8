package kmodimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gokmod/modprobe/internal/registrytest"
)

// imgTestKernel is the kernel version of the images of these tests.
const imgTestKernel = "6.1.0-img"

// imgTestImage returns an image whose kernel directory holds m.ko with
// the given content.
func imgTestImage(t *testing.T, content string) v1.Image {
	t.Helper()
	return registrytest.Image(t,
		[]registrytest.Entry{{Name: "opt/lib/modules/" + imgTestKernel + "/m.ko", Data: []byte(content)}},
		[]registrytest.Entry{{Name: "etc/os-release", Data: []byte("ID=test\n")}},
	)
}

// imgTestDigest returns img's digest.
func imgTestDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// imgTestModule extracts img and returns the content of its m.ko.
func imgTestModule(t *testing.T, img v1.Image) string {
	t.Helper()
	dst := t.TempDir()
	if err := Extract(t.Context(), img, dst, ExtractOptions{KernelVersion: imgTestKernel}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "opt/lib/modules", imgTestKernel, "m.ko"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// imgTestIndex returns an index of an amd64 and an arm64 image, whose m.ko
// name their architecture.
func imgTestIndex(t *testing.T) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	imgs := map[string]v1.Image{}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img := imgTestImage(t, arch)
		imgs[arch] = img
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	return idx, imgs
}

func TestOpenImageRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	img := imgTestImage(t, "from the registry")
	ref := reg.Push(t, "kmod/test", "v1", img)
	want := imgTestDigest(t, img)
	insecure := PullOptions{Insecure: true}

	got, err := OpenImage(t.Context(), ref, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if d := imgTestDigest(t, got); d != want {
		t.Errorf("by tag: digest %s, want %s", d, want)
	}
	if m := imgTestModule(t, got); m != "from the registry" {
		t.Errorf("by tag: m.ko = %q", m)
	}

	byDigest := reg.Host + "/kmod/test@" + want.String()
	got, err = OpenImage(t.Context(), byDigest, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if d := imgTestDigest(t, got); d != want {
		t.Errorf("by digest: digest %s, want %s", d, want)
	}

	for _, bad := range []string{reg.Host + "/kmod/test:missing", reg.Host + "/kmod/absent:v1", "UPPER/case:ref"} {
		_, err = OpenImage(t.Context(), bad, insecure)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("OpenImage(%q) = %v, want an error naming the reference", bad, err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := OpenImage(ctx, ref, insecure); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled OpenImage = %v, want context.Canceled", err)
	}
}

func TestOpenImageRegistryPlatform(t *testing.T) {
	reg := registrytest.Start(t)
	idx, imgs := imgTestIndex(t)
	ref := reg.Host + "/kmod/multi:v1"
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		got, err := OpenImage(t.Context(), ref, PullOptions{Insecure: true, Platform: &v1.Platform{OS: "linux", Architecture: arch}})
		if err != nil {
			t.Fatal(err)
		}
		if d, want := imgTestDigest(t, got), imgTestDigest(t, imgs[arch]); d != want {
			t.Errorf("%s: digest %s, want %s", arch, d, want)
		}
	}
	if img, ok := imgs[runtime.GOARCH]; ok {
		got, err := OpenImage(t.Context(), ref, PullOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		if imgTestDigest(t, got) != imgTestDigest(t, img) {
			t.Errorf("default platform did not pick %s", runtime.GOARCH)
		}
	}
	s390 := &v1.Platform{OS: "linux", Architecture: "s390x"}
	if _, err := OpenImage(t.Context(), ref, PullOptions{Insecure: true, Platform: s390}); err == nil || !strings.Contains(err.Error(), ref) {
		t.Errorf("s390x: %v, want an error naming the reference", err)
	}
}

func TestOpenImageLayout(t *testing.T) {
	one := imgTestImage(t, "one")
	two := imgTestImage(t, "two")
	idx, _ := imgTestIndex(t)

	soleDir := filepath.Join(t.TempDir(), "sole")
	p, err := layout.Write(soleDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(one); err != nil {
		t.Fatal(err)
	}
	got, err := OpenImage(t.Context(), "oci:"+soleDir, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if imgTestModule(t, got) != "one" || imgTestDigest(t, got) != imgTestDigest(t, one) {
		t.Error("sole manifest: wrong image")
	}

	dir := filepath.Join(t.TempDir(), "multi:with-colon")
	if p, err = layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	for tag, img := range map[string]v1.Image{"v1": one, "v2": two} {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: "multi"})); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]v1.Image{
		"oci:" + dir + ":v1": one,
		"oci:" + dir + ":v2": two,
		"oci:" + dir + "@" + imgTestDigest(t, two).String(): two,
	} {
		got, err := OpenImage(t.Context(), ref, PullOptions{})
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if imgTestDigest(t, got) != imgTestDigest(t, want) {
			t.Errorf("%s: wrong image", ref)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		got, err := OpenImage(t.Context(), "oci:"+dir+":multi", PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: arch}})
		if err != nil {
			t.Fatal(err)
		}
		if imgTestModule(t, got) != arch {
			t.Errorf("index by platform %s: wrong image", arch)
		}
	}
	for _, bad := range []string{
		"oci:" + dir,         // three manifests
		"oci:" + dir + ":v3", // no such tag
		"oci:" + dir + "@sha256:" + strings.Repeat("0", 64),
		"oci:" + dir + "@sha256:short", // bad digest
		"oci:" + filepath.Join(t.TempDir(), "none"),
		"oci:",
	} {
		if _, err := OpenImage(t.Context(), bad, PullOptions{}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("OpenImage(%q) = %v, want an error naming the reference", bad, err)
		}
	}
	s390 := &v1.Platform{OS: "linux", Architecture: "s390x"}
	if _, err := OpenImage(t.Context(), "oci:"+dir+":multi", PullOptions{Platform: s390}); err == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("s390x: %v, want an error listing the platforms", err)
	}
}

func TestOpenImageTarball(t *testing.T) {
	img := imgTestImage(t, "from a tarball")
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, name.MustParseReference("kmod:test"), img); err != nil {
		t.Fatal(err)
	}
	got, err := OpenImage(t.Context(), "tarball:"+path, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := imgTestModule(t, got); m != "from a tarball" {
		t.Errorf("m.ko = %q", m)
	}
	wantCfg, _ := img.ConfigName()
	if gotCfg, err := got.ConfigName(); err != nil || gotCfg != wantCfg {
		t.Errorf("config %s, %v; want %s", gotCfg, err, wantCfg)
	}

	two := filepath.Join(t.TempDir(), "two.tar")
	refs := map[name.Reference]v1.Image{
		name.MustParseReference("kmod:a"): img,
		name.MustParseReference("kmod:b"): imgTestImage(t, "b"),
	}
	if err := tarball.MultiRefWriteToFile(two, refs); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"tarball:" + two, "tarball:" + filepath.Join(t.TempDir(), "none.tar"), "tarball:"} {
		if _, err := OpenImage(t.Context(), bad, PullOptions{}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("OpenImage(%q) = %v, want an error naming the reference", bad, err)
		}
	}
}

func TestSplitLayoutSpec(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct{ spec, dir, tag, digest string }{
		{"/x/y", "/x/y", "", ""},
		{"/x/y:v1.0", "/x/y", "v1.0", ""},
		{"/x:y/z", "/x:y/z", "", ""},
		{"/x/y@" + d, "/x/y", "", d},
		{"rel", "rel", "", ""},
	} {
		dir, tag, digest, err := splitLayoutSpec(tc.spec)
		var ds string
		if digest != (v1.Hash{}) {
			ds = digest.String()
		}
		if err != nil || dir != tc.dir || tag != tc.tag || ds != tc.digest {
			t.Errorf("splitLayoutSpec(%q) = %q, %q, %q, %v; want %q, %q, %q", tc.spec, dir, tag, ds, err, tc.dir, tc.tag, tc.digest)
		}
	}
}

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		unsafe    bool
	}{
		{raw: "opt/lib", want: "opt/lib"},
		{raw: "./opt/lib/", want: "opt/lib"},
		{raw: "././opt//lib/./x", want: "opt/lib/x"},
		{raw: "./", want: ""},
		{raw: ".", want: ""},
		{raw: "..", unsafe: true},
		{raw: "../x", unsafe: true},
		{raw: "a/../b", unsafe: true},
		{raw: "a/b/..", unsafe: true},
		{raw: "./../a", unsafe: true},
		{raw: "/etc/passwd", unsafe: true},
		{raw: ".//etc", unsafe: true},
		{raw: "a\x00b", unsafe: true},
		{raw: "a/..b/c..", want: "a/..b/c.."},
	} {
		got, err := cleanName(tc.raw)
		if tc.unsafe {
			if !errors.Is(err, ErrUnsafeEntry) {
				t.Errorf("cleanName(%q) = %q, %v; want ErrUnsafeEntry", tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

func TestEntryError(t *testing.T) {
	err := error(&EntryError{Entry: "a\nb", Err: ErrTooLarge})
	if got, want := err.Error(), `image entry "a\nb": `+ErrTooLarge.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnsafeEntry) {
		t.Error("Unwrap does not give Err")
	}
	if !slices.Contains([]error{ErrUnsafeEntry, ErrTooLarge, ErrNotInImage}, errors.Unwrap(err)) {
		t.Error("Unwrap is not a sentinel")
	}
}
