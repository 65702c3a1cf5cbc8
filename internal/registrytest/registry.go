package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// idHeader is the header by which a registry of Start identifies itself.
const idHeader = "X-Registrytest-Id"

// Timeouts of Start and Push.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	pushTimeout  = 30 * time.Second
	startTries   = 5
)

// Registry is a running docker-registry that serves plain HTTP, or HTTPS
// when started by StartTLS.
type Registry struct {
	// Host is the registry's address, "127.0.0.1:PORT", to start image
	// references with.
	Host string

	id     string // the value of its idHeader
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	stderr *syncBuffer
	tls    *tlsFiles // nil: plain HTTP
}

// Start starts docker-registry on 127.0.0.1 at a free port with filesystem storage in a temporary directory, waits until GET /v2/ answers, and stops it (and removes its files) when the test ends. It fails the test (never skips) if the binary is missing.
func Start(tb testing.TB) *Registry {
	tb.Helper()
	return startWith(tb, nil)
}

// startWith is Start, serving HTTPS with the files of t when t is set.
func startWith(tb testing.TB, t *tlsFiles) *Registry {
	tb.Helper()
	if _, err := os.Stat(Binary); err != nil {
		tb.Fatalf("registrytest: %v (install Debian's docker-registry package: scripts/setup.sh)", err)
	}
	dir := tb.TempDir()
	var errs []string
	for try := range startTries {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		r, err := start(tb, filepath.Join(dir, fmt.Sprint(try)), port, t)
		if err == nil {
			return r
		}
		errs = append(errs, err.Error())
	}
	tb.Fatalf("registrytest: docker-registry did not start after %d tries:\n%s", startTries, strings.Join(errs, "\n"))
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// config is the registry's configuration: the storage directory, the
// port, and the value of the idHeader it sends with every answer, by which
// Start knows that the registry answering at the port is its own.
const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
  secret: registrytest-not-secret
  headers:
    %s: [%s]
%shealth:
  storagedriver:
    enabled: false
`

// start runs the registry with its files in dir and waits until it
// answers at port. On error it leaves nothing running.
func start(tb testing.TB, dir string, port int, t *tlsFiles) (*Registry, error) {
	storage := filepath.Join(dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, storage, port, idHeader, id, t.config()), 0o644); err != nil {
		return nil, err
	}
	r := &Registry{
		Host:   fmt.Sprintf("127.0.0.1:%d", port),
		id:     id,
		exited: make(chan struct{}),
		stderr: &syncBuffer{},
		tls:    t,
	}
	r.cmd = exec.Command(Binary, "serve", cfg)
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout = r.stderr
	r.cmd.Stderr = r.stderr
	r.cmd.SysProcAttr = childAttr()
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		r.cmd.Wait()
		close(r.exited)
	}()
	if err := r.waitReady(); err != nil {
		r.stop()
		return nil, fmt.Errorf("port %d: %v; output:\n%s", port, err, r.stderr.String())
	}
	tb.Cleanup(func() {
		r.stop()
		if tb.Failed() {
			if out := r.stderr.String(); out != "" {
				tb.Logf("docker-registry output:\n%s", out)
			}
		}
	})
	return r, nil
}

// cleanEnv returns the environment without the REGISTRY_ variables that
// would override the configuration.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady waits until GET /v2/ answers 200, the process exits, or
// startTimeout passes.
func (r *Registry) waitReady() error {
	client := r.tls.client(time.Second)
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(r.tls.scheme() + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			switch {
			case resp.Header.Get(idHeader) != r.id:
				err = errors.New("another server answers at the port")
			case resp.StatusCode == http.StatusOK:
				return nil
			default:
				err = fmt.Errorf("GET /v2/: %s", resp.Status)
			}
		}
		select {
		case <-r.exited:
			return fmt.Errorf("docker-registry exited: %v", r.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", startTimeout, err)
		}
	}
}

// stop ends the registry: SIGTERM, then SIGKILL if it lingers.
func (r *Registry) stop() {
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(stopTimeout):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// Push writes img to the registry as REPO:TAG (plain HTTP, or HTTPS without verifying the certificate) and returns the full reference "HOST/REPO:TAG".
func (r *Registry) Push(tb testing.TB, repo, tag string, img v1.Image) string {
	tb.Helper()
	ref := r.Host + "/" + repo + ":" + tag
	t, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	if err := remote.Write(t, img, remote.WithContext(ctx), remote.WithTransport(r.tls.client(0).Transport)); err != nil {
		tb.Fatalf("registrytest: push %s: %v", ref, err)
	}
	return ref
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
