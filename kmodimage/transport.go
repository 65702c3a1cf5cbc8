package kmodimage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrStalled reports a registry that kept a pull waiting longer than
// PullOptions.StallTimeout: to connect, to answer, or for the next bytes
// of a body.
var ErrStalled = errors.New("registry stalled")

// ErrTooManyRedirects reports a registry that redirected a request more
// than 10 times (net/http's limit; go-containerregistry's own redirect
// check sets none).
var ErrTooManyRedirects = errors.New("too many redirects")

// maxRedirects is the most redirects followed for one request.
const maxRedirects = 10

// The defaults of PullOptions.
const (
	// DefaultPullTimeout is how long a pull may take in all.
	DefaultPullTimeout = 10 * time.Minute
	// DefaultStallTimeout is how long a registry may keep a pull waiting
	// at any one time.
	DefaultStallTimeout = 30 * time.Second
)

// pullTransport is the HTTP transport of a pull. On every request it
// bounds the redirects, the time spent waiting on the registry
// (stall), and the time of the whole pull (deadline); on every body it
// bounds the size: a blob's to its descriptor's (known once the image's
// manifest is), anything else to MaxManifestSize. A body fetched by
// digest (a manifest or a blob) is checked against the digest: instead of
// its end, or of the bytes past its size, the reader gets an error
// wrapping ErrDigestMismatch. (Extract checks the blobs again, against
// the manifest; the check here comes first, before go-containerregistry's
// own, whose error wraps nothing of ours.)
type pullTransport struct {
	inner    http.RoundTripper
	stall    time.Duration
	timeout  time.Duration
	deadline time.Time

	mu    sync.Mutex
	blobs map[v1.Hash]int64 // the sizes of the blobs the image's manifest names
}

// newPullTransport returns the transport of a pull starting now.
func newPullTransport(opts PullOptions) *pullTransport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if base.TLSClientConfig == nil {
		base.TLSClientConfig = &tls.Config{}
	}
	base.TLSClientConfig.InsecureSkipVerify = opts.Insecure || opts.InsecureSkipTLSVerify
	if opts.RootCAs != nil {
		base.TLSClientConfig.RootCAs = opts.RootCAs
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultPullTimeout
	}
	stall := opts.StallTimeout
	if stall == 0 {
		stall = DefaultStallTimeout
	}
	return &pullTransport{
		inner:    base,
		stall:    stall,
		timeout:  timeout,
		deadline: time.Now().Add(timeout),
		blobs:    map[v1.Hash]int64{},
	}
}

// expectBlobs records the sizes of the config and layers m names.
func (t *pullTransport) expectBlobs(m *v1.Manifest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.blobs[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		t.blobs[l.Digest] = l.Size
	}
}

// blobSize returns the size of the blob with digest d, if known.
func (t *pullTransport) blobSize(d v1.Hash) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.blobs[d]
	return n, ok
}

// RoundTrip sends req under the pull's bounds.
func (t *pullTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// req.Response is the redirect that led to req; the chain goes back
	// to the request the client was asked to make.
	first, hops := req, 0
	for first.Response != nil && first.Response.Request != nil {
		first, hops = first.Response.Request, hops+1
	}
	if hops >= maxRedirects {
		return nil, fmt.Errorf("%s %s: %w: stopped after %d", req.Method, first.URL.Redacted(), ErrTooManyRedirects, maxRedirects)
	}
	w := t.watch(req.Context(), req.Method+" "+first.URL.Redacted())
	out := req.WithContext(w.ctx)
	if req.Body != nil && req.Body != http.NoBody {
		// An upload (SignImage's push) that the registry keeps taking
		// is not a stall.
		out.Body = &uploadBody{ReadCloser: req.Body, w: w}
	}
	resp, err := t.inner.RoundTrip(out)
	if err != nil {
		w.stop()
		return nil, untrusted(w.explain(err), first.URL.Host)
	}
	body, err := t.bound(req, first, resp)
	if err != nil {
		resp.Body.Close()
		w.stop()
		return nil, err
	}
	resp.Body = &watchedBody{r: body, c: resp.Body, w: w}
	return resp, nil
}

// bound returns resp's body bounded and, when first asked for a manifest
// or a blob by digest and got it, checked against the digest; or an
// error if the Content-Length is already wrong.
func (t *pullTransport) bound(req, first *http.Request, resp *http.Response) (io.Reader, error) {
	if req.Method == http.MethodHead {
		return resp.Body, nil
	}
	dir, last := path.Split(first.URL.Path)
	what, size := "response", int64(-1)
	var digest v1.Hash
	switch kind := path.Base(dir); {
	case kind == "manifests":
		what = "manifest " + last
	case kind == "blobs":
		what = "blob " + last
	}
	if d, err := v1.NewHash(last); err == nil && resp.StatusCode == http.StatusOK && what != "response" {
		digest = d
		if n, ok := t.blobSize(d); ok && strings.HasPrefix(what, "blob") {
			size = n
		}
	}
	switch n := resp.ContentLength; {
	case size >= 0 && n >= 0 && n != size:
		return nil, fmt.Errorf("%s: %w: Content-Length %d, its descriptor says %d", what, ErrDigestMismatch, n, size)
	case n > MaxManifestSize && size < 0:
		return nil, fmt.Errorf("%s from %s: %w: Content-Length %d, over the limit of %d", what, first.URL.Host, ErrTooLarge, n, MaxManifestSize)
	}
	return newBlobReader(resp.Body, what, digest, size, MaxManifestSize)
}

// watch is the watchdog of one request: its context ends when the
// registry stays silent for the stall timeout, when the pull's deadline
// passes, or when the request is done.
type watch struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timer   *time.Timer
	stall   time.Duration
	stalled atomic.Bool
	t       *pullTransport
	target  string // "GET URL", for messages
}

// watch starts the watchdog of a request made with ctx.
func (t *pullTransport) watch(ctx context.Context, target string) *watch {
	w := &watch{stall: t.stall, t: t, target: target}
	ctx, cancelDeadline := context.WithDeadline(ctx, t.deadline)
	ctx, cancel := context.WithCancel(ctx)
	w.ctx = ctx
	w.cancel = func() { cancel(); cancelDeadline() }
	w.timer = time.AfterFunc(t.stall, func() {
		w.stalled.Store(true)
		cancel()
	})
	return w
}

// kick restarts the stall timer: the registry sent something.
func (w *watch) kick() { w.timer.Reset(w.stall) }

// stop ends the request's context.
func (w *watch) stop() {
	w.timer.Stop()
	w.cancel()
}

// explain says why a request or a body failed when the watchdog ended it.
func (w *watch) explain(err error) error {
	switch {
	case w.stalled.Load():
		return fmt.Errorf("%s: %w: nothing received for %v", w.target, ErrStalled, w.stall)
	case !time.Now().Before(w.t.deadline):
		return fmt.Errorf("%s: the pull took longer than its timeout of %v: %w", w.target, w.t.timeout, context.DeadlineExceeded)
	}
	return err
}

// uploadBody is a request body sent under its request's watchdog: each
// read of it, as the connection takes more, restarts the stall timer.
type uploadBody struct {
	io.ReadCloser
	w *watch
}

// Read reads from the body, restarting the stall timer on progress.
func (b *uploadBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	return n, err
}

// watchedBody is a response body read under its request's watchdog.
type watchedBody struct {
	r io.Reader
	c io.Closer
	w *watch
}

// Read reads from the body, restarting the stall timer on progress.
func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.w.kick()
	}
	if err != nil && err != io.EOF {
		err = b.w.explain(err)
	}
	return n, err
}

// Close closes the body and ends the request's context.
func (b *watchedBody) Close() error {
	err := b.c.Close()
	b.w.stop()
	return err
}
