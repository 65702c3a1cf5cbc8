// Command demo boots Debian's kernel under qemu with a shell script as
// /init and shows gokmod loading modules into it: lsmod, the plan of
// "gokmod modprobe -D ip_vs_wrr", loads with "gokmod modprobe -v", the
// network devices and lsmod again. scripts/demo.sh runs it:
//
//	go run ./internal/vmtest/cmd/demo -tree ROOT -release RELEASE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gokmod/modprobe/internal/vmtest"
)

// script is the guest's /init. Every step runs even if an earlier one
// failed; the status line tells the host the script ran to its end.
const script = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

# step prints a command, runs it and shows a failing exit status.
step() {
	echo
	echo "guest# $*"
	"$@" 2>&1
	rc=$?
	[ $rc -eq 0 ] || echo "(exit status $rc)"
}

echo "guest: Linux $(uname -r), $(nproc) CPUs; modules in the image:"
find /lib/modules/$(uname -r) -name '*.ko*' | sed 's|.*/||' | sort | tr '\n' ' '
echo
step /bin/gokmod lsmod
step /bin/gokmod modprobe -D ip_vs_wrr
step /bin/gokmod modprobe -v ip_vs_wrr
step /bin/gokmod modprobe -v dummy numdummies=3
step ip link
step ls /sys/class/net
step /bin/gokmod lsmod
step /bin/gokmod modprobe -rv ip_vs_wrr
step /bin/gokmod lsmod
echo
echo "GOKMOD-VM-EXIT: 0"
poweroff -f
`

func main() {
	tree := flag.String("tree", "", "root of the Debian kernel tree (ROOT/boot/vmlinuz-RELEASE, ROOT/lib/modules/RELEASE)")
	release := flag.String("release", "", "kernel release")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()
	if *tree == "" || *release == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: demo -tree ROOT -release RELEASE")
		os.Exit(2)
	}
	if err := run(*tree, *release, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(tree, release string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "gokmod-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	gokmod := filepath.Join(dir, "gokmod")
	if err := vmtest.BuildGokmod(ctx, gokmod); err != nil {
		return err
	}
	kernel, err := vmtest.BootKernel(ctx, vmtest.KernelPath(tree, release), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	img := vmtest.Image{
		Root:    tree,
		Release: release,
		Modules: vmtest.Modules(),
		Init:    vmtest.DataFile([]byte(script), 0o755),
		Files:   map[string]vmtest.File{"/bin/gokmod": vmtest.HostFile(gokmod)},
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	if err := img.Build(ctx, initrd); err != nil {
		return err
	}
	fmt.Printf("Booting Linux %s under qemu (TCG) with a shell script as /init:\n", release)
	res, err := vmtest.Run(ctx, vmtest.Machine{Kernel: kernel, Initrd: initrd, Console: os.Stdout})
	if err != nil {
		return err
	}
	fmt.Printf("(the VM ran for %v)\n", res.Duration.Round(100*time.Millisecond))
	if res.Status != 0 {
		return fmt.Errorf("the guest script exited with status %d", res.Status)
	}
	return nil
}
