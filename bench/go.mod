module github.com/gokmod/modprobe/bench

go 1.26.0

require (
	github.com/gokmod/modprobe v0.0.0
	github.com/pmorjan/kmod v1.1.1
	github.com/u-root/u-root v0.16.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/klauspost/pgzip v1.2.6 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/gokmod/modprobe => ../
