package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"syscall"

	"github.com/gokmod/modprobe/internal/modfile"
)

func main() {
	var files [][]byte
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		b, err := os.ReadFile(sc.Text())
		if err != nil {
			panic(err)
		}
		files = append(files, b)
	}
	rounds := 1
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &rounds)
	}
	var n int
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for range rounds {
		for _, f := range files {
			out, err := modfile.Decompress(bytes.NewReader(f), int64(len(f)), modfile.XZ, 1<<30)
			if err != nil {
				panic(err)
			}
			n += len(out)
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	fmt.Printf("%d files %d bytes %.3f cpu-ns/B\n", len(files), n, float64(cpu)/float64(n))
}
