package kmodimage_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"github.com/gokmod/modprobe/kmodimage"
)

// This example pulls a kmod image and writes its modules for one kernel,
// and its firmware, under /var/lib/gokmod/image, as KMM's worker would.
func ExampleExtract() {
	ctx := context.Background()
	img, err := kmodimage.OpenImage(ctx, "quay.io/example/kmod:6.1.0-13-amd64", kmodimage.PullOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dst := "/var/lib/gokmod/image"
	err = kmodimage.Extract(ctx, img, dst, kmodimage.ExtractOptions{
		KernelVersion: "6.1.0-13-amd64",
		FirmwarePath:  "/firmware",
		HostModules:   "/host/lib/modules",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("modules in", filepath.Join(dst, "opt/lib/modules/6.1.0-13-amd64"))
}

// This example opens an image saved with `docker save` and extracts it
// through a cache, so that running it again writes nothing.
func ExampleCache_Extract() {
	ctx := context.Background()
	img, err := kmodimage.OpenImage(ctx, "tarball:/tmp/kmod.tar", kmodimage.PullOptions{})
	if err != nil {
		log.Fatal(err)
	}
	cache := kmodimage.Cache{Dir: "/var/cache/gokmod"}
	dir, err := cache.Extract(ctx, img, kmodimage.ExtractOptions{KernelVersion: "6.1.0-13-amd64"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("modules in", filepath.Join(dir, "opt/lib/modules/6.1.0-13-amd64"))
}

// This example opens the image tagged "v1" in an OCI image layout, as
// `skopeo copy docker://... oci:DIR:v1` writes it.
func ExampleOpenImage() {
	img, err := kmodimage.OpenImage(context.Background(), "oci:/srv/images/kmod:v1", kmodimage.PullOptions{})
	if err != nil {
		log.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(digest)
}
