package registrytest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Server is a registry in the test process: an HTTP server on 127.0.0.1
// that answers the pull side of the distribution API (GET and HEAD of
// /v2/, of manifests by tag or digest and of blobs by digest) from
// memory. Unlike Start's docker-registry it can be told to misbehave when
// it serves a given manifest or blob (see Fault). Any repository name
// finds any stored digest.
type Server struct {
	// Host is the server's address, "127.0.0.1:PORT", to start image
	// references with.
	Host string

	srv      *httptest.Server
	requests atomic.Int64

	mu      sync.Mutex
	objects map[string]object // by digest ("sha256:HEX")
	tags    map[string]string // "REPO:TAG" -> digest
	faults  map[string]Fault  // by digest or "REPO:TAG"
}

// object is a stored manifest or blob.
type object struct {
	data      []byte
	mediaType types.MediaType // empty for blobs
}

// Fault says how a Server misbehaves when it serves one manifest or blob.
// The zero Fault serves it honestly.
type Fault struct {
	// Body, if not nil, is served instead of the stored bytes (the
	// manifest or descriptor still names the stored ones).
	Body []byte
	// NoLength sends the body without a Content-Length header (chunked).
	NoLength bool
	// Endless sends zero bytes after the body until the client goes away.
	Endless bool
	// Drip sends the body one byte at a time, pausing this long before
	// each.
	Drip time.Duration
	// Stall sends nothing, not even the status line, until the client
	// goes away.
	Stall bool
	// RedirectLoop answers every request for it with a redirect to
	// itself.
	RedirectLoop bool
}

// Serve starts a Server and stops it when the test ends.
func Serve(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		objects: map[string]object{},
		tags:    map[string]string{},
		faults:  map[string]Fault{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.Host = strings.TrimPrefix(s.srv.URL, "http://")
	tb.Cleanup(func() {
		// Drop the connections first, so that handlers blocked on a
		// client that never reads see it gone and return.
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// Put stores img as REPO:TAG and returns the reference "HOST/REPO:TAG".
func (s *Server) Put(tb testing.TB, repo, tag string, img v1.Image) string {
	tb.Helper()
	s.putImage(tb, img)
	return s.tag(tb, repo, tag, img)
}

// PutIndex stores idx and its images as REPO:TAG and returns the
// reference "HOST/REPO:TAG".
func (s *Server) PutIndex(tb testing.TB, repo, tag string, idx v1.ImageIndex) string {
	tb.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		s.putImage(tb, img)
	}
	return s.tag(tb, repo, tag, idx)
}

// manifestOf is what Put and PutIndex need of an image or an index.
type manifestOf interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}

// tag stores m's manifest and tags it REPO:TAG.
func (s *Server) tag(tb testing.TB, repo, tag string, m manifestOf) string {
	tb.Helper()
	d := s.putManifest(tb, m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[repo+":"+tag] = d
	return s.Host + "/" + repo + ":" + tag
}

// putManifest stores m's manifest and returns its digest.
func (s *Server) putManifest(tb testing.TB, m manifestOf) string {
	tb.Helper()
	raw, err := m.RawManifest()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	mt, err := m.MediaType()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	d, err := m.Digest()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[d.String()] = object{data: raw, mediaType: mt}
	return d.String()
}

// putImage stores img's manifest, config and layers.
func (s *Server) putImage(tb testing.TB, img v1.Image) {
	tb.Helper()
	blobs := map[string][]byte{}
	cfg, err := img.RawConfigFile()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	cd, err := img.ConfigName()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	blobs[cd.String()] = cfg
	layers, err := img.Layers()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		blobs[d.String()] = buf.Bytes()
	}
	s.mu.Lock()
	for k, b := range blobs {
		s.objects[k] = object{data: b}
	}
	s.mu.Unlock()
	s.putManifest(tb, img)
}

// Bytes returns a copy of the stored manifest or blob with digest d, or
// nil.
func (s *Server) Bytes(d v1.Hash) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[d.String()]
	if !ok {
		return nil
	}
	return bytes.Clone(o.data)
}

// SetFault makes the server serve the manifest or blob named by key (a
// digest, "sha256:HEX", or a tag, "REPO:TAG") as f says, from now on.
func (s *Server) SetFault(key string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[key] = f
}

// ClearFaults makes the server honest again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Requests returns the number of requests the server has answered or
// is answering.
func (s *Server) Requests() int64 { return s.requests.Load() }

// lookup finds what the request path p ("/v2/REPO/manifests/REF" or
// "/v2/REPO/blobs/DIGEST") names.
func (s *Server) lookup(p string) (object, Fault, bool) {
	dir, ref := path.Split(p)
	kind := path.Base(dir)
	repo := strings.TrimPrefix(path.Dir(path.Clean(dir)), "/v2/")
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ref
	var faultKeys []string
	if kind == "manifests" && !strings.Contains(ref, ":") {
		faultKeys = append(faultKeys, repo+":"+ref)
		key = s.tags[repo+":"+ref]
	}
	var f Fault
	for _, k := range append(faultKeys, key) {
		if kf, ok := s.faults[k]; ok {
			f = kf
			break
		}
	}
	o, ok := s.objects[key]
	if !ok || (kind == "manifests") != (o.mediaType != "") || (kind != "manifests" && kind != "blobs") {
		return object{}, Fault{}, false
	}
	return o, f, true
}

// serve answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only registry", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	o, f, ok := s.lookup(r.URL.Path)
	if !ok {
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}`, http.StatusNotFound)
		return
	}
	if f.Stall {
		<-r.Context().Done()
		return
	}
	if f.RedirectLoop {
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	body := o.data
	if f.Body != nil {
		body = f.Body
	}
	if o.mediaType != "" {
		w.Header().Set("Content-Type", string(o.mediaType))
		w.Header().Set("Docker-Content-Digest", sha256Of(o.data).String())
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	if !f.NoLength && !f.Endless {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	s.send(w, r, body, f)
}

// send writes the body as f says.
func (s *Server) send(w http.ResponseWriter, r *http.Request, body []byte, f Fault) {
	rc := http.NewResponseController(w)
	done := r.Context().Done()
	if f.NoLength || f.Endless {
		rc.Flush() // else net/http adds a Content-Length to a short body
	}
	if f.Drip > 0 {
		for i := range body {
			select {
			case <-done:
				return
			case <-time.After(f.Drip):
			}
			if _, err := w.Write(body[i : i+1]); err != nil {
				return
			}
			rc.Flush()
		}
	} else if _, err := w.Write(body); err != nil {
		return
	}
	if !f.Endless {
		return
	}
	zeros := make([]byte, 32<<10)
	for {
		select {
		case <-done:
			return
		default:
		}
		if _, err := w.Write(zeros); err != nil {
			return
		}
	}
}
