package depmod_test

import (
	"context"
	"log"
	"os"

	"github.com/gokmod/modprobe/depmod"
)

// Index a module tree extracted from an image, as depmod -b does, writing
// the files next to the modules.
func ExampleRun() {
	err := depmod.Run(context.Background(), depmod.Options{
		BaseDir: "/tmp/opt",
		Release: "6.1.0-13-amd64",
		Log: func(l depmod.Level, msg string) {
			if l <= depmod.LevelWarning {
				log.Print(msg)
			}
		},
	})
	if err != nil {
		os.Exit(1)
	}
}

// Index an extension's module directory over a base's, in memory: the
// files a depmod over a copy merging them would write, none written.
func ExampleIndexes() {
	files, err := depmod.Indexes(context.Background(), depmod.Options{
		Layers: []string{"/run/extensions/lib/modules/6.1.0-13-amd64", "/lib/modules/6.1.0-13-amd64"},
	})
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(files["modules.dep"])
}
