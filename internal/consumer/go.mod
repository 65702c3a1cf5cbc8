// A module that imports gokmod as Kata's agent, KMM's worker and an OCI
// hook would: outside gokmod's own module, built and tested with the
// oldest Go release gokmod supports (make test).
module example.com/consumer

go 1.25.0

require (
	github.com/gokmod/modprobe v0.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/gokmod/modprobe => ../..
