# gokmod: make test runs every test; make demo shows the main job.
GO ?= go
GOFLAGS ?=

.PHONY: all test demo setup lint unit fuzz bench clean

all: test

# setup installs the Debian packages the tests use and fetches Debian's
# current kernel package into .cache/ (see scripts/setup.sh).
setup:
	./scripts/setup.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -race ./...

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
