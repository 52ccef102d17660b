package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// TimeoutError is a registry that did not answer in time: which registry,
// what it was doing (connecting, the TLS handshake, sending response
// headers, sending a response body, or a whole operation) and the bound
// it exceeded. Its message is one line: "registry HOST:PORT: timed out
// after 30s waiting for response headers". A request that timed out is
// not retried.
type TimeoutError struct {
	// Registry is the registry's host:port, or the name of the store
	// when it is not a registry.
	Registry string
	// What says what timed out, in words that follow "timed out after
	// 30s": "connecting", "in the TLS handshake", "waiting for response
	// headers", "waiting for response body data", "checking the image".
	What string
	// After is the bound that was exceeded.
	After time.Duration
	// Err is the underlying error, if any (context.DeadlineExceeded for
	// an operation's deadline).
	Err error
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("timed out after %s %s", e.After, e.What)
	if e.Registry != "" {
		return "registry " + e.Registry + ": " + s
	}
	return s
}

// Unwrap returns the underlying error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true: a TimeoutError is a net.Error that timed out.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports false (net.Error).
func (e *TimeoutError) Temporary() bool { return false }

var _ net.Error = (*TimeoutError)(nil)

// What a request was doing when it timed out.
const (
	whatConnect = "connecting"
	whatTLS     = "in the TLS handshake"
	whatHeaders = "waiting for response headers"
	whatBody    = "waiting for response body data"
)

// WithDeadline bounds one operation on a registry (or store) to d: once
// it passes, every request of ctx fails with a *TimeoutError saying
// "registry REGISTRY: timed out after D WHAT", and DeadlineError turns
// whatever error the operation ended with into that error. d <= 0 means
// no deadline (cancel is still to be called).
func WithDeadline(ctx context.Context, d time.Duration, registry, what string) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, &TimeoutError{Registry: registry, What: what, After: d, Err: context.DeadlineExceeded})
}

// DeadlineError returns the *TimeoutError of ctx's deadline (set by
// WithDeadline) when that deadline has passed and err is not nil, and err
// otherwise: an operation cut by its deadline fails with one line naming
// the registry and the deadline, whatever step it was in.
func DeadlineError(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var te *TimeoutError
	if cause := context.Cause(ctx); errors.As(cause, &te) && errors.Is(te.Err, context.DeadlineExceeded) {
		return te
	}
	return err
}

// bareTimeout returns the *TimeoutError in err's chain, if there is one,
// without the request's method and URL around it: the registry and what
// timed out are the message. Any other error is returned as it is.
func bareTimeout(err error) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		return te
	}
	return err
}

// timeoutTransport names the registry and the step of a request that
// timed out (dial, TLS handshake and response headers are bounded by the
// transport beneath it), and bounds each read of a response body: a body
// that sends nothing for longer than timeout fails. The time between
// reads is not counted, so a slow reader (a copy to a slow destination)
// is not cut.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// Phases of a request, in order.
const (
	phaseConnect int32 = iota
	phaseTLS
	phaseHeaders
)

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var phase atomic.Int32
	advance := func(p int32) {
		for {
			cur := phase.Load()
			if cur >= p || phase.CompareAndSwap(cur, p) {
				return
			}
		}
	}
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart: func() { advance(phaseTLS) },
		GotConn:           func(httptrace.GotConnInfo) { advance(phaseHeaders) },
	}
	ctx, cancel := context.WithCancelCause(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, t.explain(req, phase.Load(), err)
	}
	resp.Body = &idleBody{body: resp.Body, timeout: t.timeout, cancel: cancel,
		err: &TimeoutError{Registry: hostPort(req.URL), What: whatBody, After: t.timeout}}
	return resp, nil
}

// explain turns a request's timeout into a *TimeoutError naming the
// registry and the step; an operation's deadline (the request's context)
// is its own cause, as WithDeadline set it.
func (t *timeoutTransport) explain(req *http.Request, phase int32, err error) error {
	if req.Context().Err() != nil {
		var te *TimeoutError
		if cause := context.Cause(req.Context()); errors.As(cause, &te) {
			return te
		}
		return err
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	what := whatConnect
	switch phase {
	case phaseTLS:
		what = whatTLS
	case phaseHeaders:
		what = whatHeaders
	}
	return &TimeoutError{Registry: hostPort(req.URL), What: what, After: t.timeout, Err: err}
}

// hostPort is u's host with its port, the scheme's default if none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// idleBody is a response body whose reads fail once one of them has
// waited longer than timeout for data: the request is then cancelled,
// which closes the connection under the blocked read.
type idleBody struct {
	body    io.ReadCloser
	timeout time.Duration
	cancel  context.CancelCauseFunc
	err     *TimeoutError

	timer *time.Timer
	fired atomic.Bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.fired.Load() {
		return 0, b.err
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.timeout, func() {
			b.fired.Store(true)
			b.cancel(b.err)
		})
	} else {
		b.timer.Reset(b.timeout)
	}
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.fired.Load() {
		return n, b.err
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.body.Close()
	b.cancel(nil)
	return err
}
