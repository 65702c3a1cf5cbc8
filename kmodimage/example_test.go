package kmodimage_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/kmodimage"
)

// A Module's kernel mappings resolved for a GKE node, whose release ends
// in "+".
func ExampleResolve() {
	module := kmodimage.KernelMapping{
		ContainerImage:        "registry.example.com/$MOD_NAMESPACE/$MOD_NAME:${KERNEL_FULL_VERSION}",
		InTreeModulesToRemove: []string{"ice"},
	}
	mappings := []kmodimage.KernelMapping{
		{Literal: "5.10.123", ContainerImage: "registry.example.com/cos/$MOD_NAME:$KERNEL_XYZ"},
		{Regexp: `^6\.1\.`},
	}
	for _, release := range []string{"5.10.123+", "6.1.0-13-amd64", "6.5.0"} {
		r, err := kmodimage.Resolve(mappings, module, kmodimage.Target{Release: release, ModName: "ice-oot", ModNamespace: "drivers"})
		if err != nil {
			fmt.Println(release, "->", err)
			continue
		}
		fmt.Println(release, "->", r.Mapping, r.ContainerImage, r.InTreeModulesToRemove)
	}
	// Output:
	// 5.10.123+ -> 0 registry.example.com/cos/ice-oot:5.10.123 [ice]
	// 6.1.0-13-amd64 -> 1 registry.example.com/drivers/ice-oot:6.1.0-13-amd64 [ice]
	// 6.5.0 -> kmodimage: kernel "6.5.0": no kernel mapping matches
}

// modulesLoadingOrder as softdeps: the last module loads first.
func ExampleSoftdepConf() {
	fmt.Print(kmodimage.SoftdepConf([]string{"irdma_oot", "ice_oot", "auxiliary"}))
	// Output:
	// softdep irdma_oot pre: ice_oot
	// softdep ice_oot pre: auxiliary
}

// The worker's configuration, decoded strictly as KMM's worker does.
func ExampleParseConfig() {
	cfg, err := kmodimage.ParseConfig([]byte(`
kernelVersion: 6.1.0-13-amd64
containerImage: registry.example.com/drivers/ice-oot:6.1.0-13-amd64
modprobe:
  moduleName: ice_oot
  parameters: [debug=1]
`), "config.yaml")
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Modprobe.ModuleName, cfg.Modprobe.Parameters, cfg.Modprobe.DirName)

	_, err = kmodimage.ParseConfig([]byte("kernelVersion: x\ncontainerImage: y\nmodprobe:\n  moduleNam: ice_oot\n"), "config.yaml")
	fmt.Println(err)
	// Output:
	// ice_oot [debug=1] /opt
	// config.yaml:4: invalid worker configuration: error unmarshaling JSON: while decoding JSON: json: unknown field "moduleNam"
}

// A worker loads a Module from the image files KMM's init container (or
// Extract) put in /tmp, and unloads it later.
func ExampleWorker() {
	cfg, err := kmodimage.ReadConfig("/etc/kmm-worker/config.yaml")
	if err != nil {
		log.Fatal(err)
	}
	w := &kmodimage.Worker{
		SharedDir:    "/tmp",
		FirmwarePath: "/var/lib/firmware",
		Options:      modprobe.Options{},
		Log:          func(line string) { log.Print(line) },
	}
	if err := w.Load(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}

// The whole of KMM's worker in one call: pull the configuration's image
// (over TLS with the registry's CA bundle) and load its module.
func ExampleWorker_PullAndLoad() {
	ctx := context.Background()
	cfg, err := kmodimage.ReadConfig("/etc/kmm-worker/config.yaml")
	if err != nil {
		log.Fatal(err)
	}
	roots, err := kmodimage.LoadCABundle("/etc/pki/kmm/ca-bundle.crt")
	if err != nil {
		log.Fatal(err)
	}
	w := &kmodimage.Worker{
		SharedDir: "/var/lib/kmm/images",
		Log:       func(line string) { log.Print(line) },
	}
	err = w.PullAndLoad(ctx, cfg, kmodimage.PullLoadOptions{
		Pull:  kmodimage.PullOptions{RootCAs: roots},
		Cache: "/var/cache/kmm",
	})
	if err != nil {
		log.Fatal(err)
	}
}
