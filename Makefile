# gokmod: make test runs every test; make demo shows the main job.
GO ?= go
GOFLAGS ?=

.PHONY: all build test demo setup lint unit fuzz bench clean

all: test

# build puts gokmod and its worker into BIN (bin/ unless set), both static:
# CGO_ENABLED=0, or the worker (net, os/user) would be linked against libc
# and go through ld.so at every start.
BIN ?= bin
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/gokmod ./cmd/worker

# setup installs the Debian packages the tests use and fetches Debian's
# current kernel package into .cache/ (see scripts/setup.sh).
setup:
	./scripts/setup.sh

# lint also builds every package for other systems and architectures: the
# library must build wherever a program importing it does (only
# internal/kernel reaches the system).
CROSS ?= darwin/amd64 freebsd/amd64 linux/arm64 linux/386
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags vmguest ./internal/vmtest/...
	$(GO) tool -modfile=tools/go.mod staticcheck ./...
	@for t in $(CROSS); do echo "GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./..."; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... || exit 1; done

# unit runs the tests with the Go release the machine has (with the race
# detector) and with the oldest release gokmod supports, which the Go
# module proxy serves as a toolchain: go.mod says 1.25, and a library must
# build and pass its tests with Go's two supported releases. A module of
# its own, internal/consumer, imports gokmod as Kata, KMM and a hook would
# and is tested with the oldest release, on the fake kernel here and, built
# with -race by the VM suite (GOKMOD_GO_OLDEST), on both real kernels. The
# VM suite itself (TestGuest: both kernels, ten minutes) runs once, in the
# first run; the second leaves it out, its consumer programs having been
# built with the oldest release already.
GO_OLDEST ?= go1.25.12
unit:
	GOKMOD_GO_OLDEST=$(GO_OLDEST) $(GO) test -race -timeout 30m ./...
	GOKMOD_GO_OLDEST=$(GO_OLDEST) GOTOOLCHAIN=$(GO_OLDEST) $(GO) test -timeout 30m -skip '^TestGuest$$' ./...
	cd internal/consumer && GOTOOLCHAIN=$(GO_OLDEST) $(GO) vet ./... && GOTOOLCHAIN=$(GO_OLDEST) $(GO) test -race ./...

test: setup lint unit

demo: setup
	./scripts/demo.sh

# fuzz runs every fuzz target for FUZZTIME each (default 2m).
FUZZTIME ?= 2m
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench: setup
	GO=$(GO) ./scripts/bench.sh

clean:
	rm -rf .cache bin
