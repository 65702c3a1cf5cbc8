module github.com/gokmod/modprobe/bench

go 1.26.0

require github.com/gokmod/modprobe v0.0.0

replace github.com/gokmod/modprobe => ../
