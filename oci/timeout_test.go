package oci_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// Every way a registry can hang is given up on within its bound, and the
// error is one line naming the registry (host:port) and what timed out:
// a silent registry, headers a line at a time, a TLS handshake that never
// starts, a body that stops, and a body that drips too slowly to trip
// the per-read bound but not the operation's deadline.
func TestHungRegistryTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	type op func(ctx context.Context, s oci.Store, image ocispec.Descriptor) error
	var (
		resolve op = func(ctx context.Context, s oci.Store, image ocispec.Descriptor) error {
			_, err := s.Resolve(ctx, "v1")
			return err
		}
		manifest op = func(ctx context.Context, s oci.Store, image ocispec.Descriptor) error {
			_, err := oci.FetchBlob(ctx, s, image, 1<<20)
			return err
		}
		list op = func(ctx context.Context, s oci.Store, image ocispec.Descriptor) error {
			_, err := oci.ListReferrers(ctx, s, image, "", 0)
			return err
		}
		discover op = func(ctx context.Context, s oci.Store, image ocispec.Descriptor) error {
			_, _, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
			return err
		}
	)
	manifestGET := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:")
	}
	resolveHEAD := func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/v1")
	}
	for _, tc := range []struct {
		name     string
		bad      func(*http.Request) bool
		m        testenv.Misbehaviour
		op       op
		deadline time.Duration // 0: only the per-request timeout
		want     string
		bound    time.Duration
	}{
		{"silent on resolve", resolveHEAD, testenv.Silent, resolve, 0, "timed out after 300ms waiting for response headers", timeout},
		{"slowloris headers on resolve", resolveHEAD, testenv.DripHeaders(50 * time.Millisecond), resolve, 0, "timed out after 300ms waiting for response headers", timeout},
		{"silent on the referrers listing", getOf("/referrers/"), testenv.Silent, discover, 0, "timed out after 300ms waiting for response headers", timeout},
		{"slowloris headers on the referrers listing", getOf("/referrers/"), testenv.DripHeaders(50 * time.Millisecond), list, 0, "timed out after 300ms waiting for response headers", timeout},
		{"manifest body stalls", manifestGET, testenv.DripBody(0), manifest, 0, "timed out after 300ms waiting for response body data", timeout},
		{"referrers listing body stalls", getOf("/referrers/"), testenv.DripBody(0), discover, 0, "timed out after 300ms waiting for response body data", timeout},
		{"manifest body drips", manifestGET, testenv.DripBody(50 * time.Millisecond), manifest, 700 * time.Millisecond, "timed out after 700ms reading the image", 700 * time.Millisecond},
		{"referrers listing drips", getOf("/referrers/"), testenv.DripBody(50 * time.Millisecond), discover, 700 * time.Millisecond, "timed out after 700ms reading the image", 700 * time.Millisecond},
		{"silent past the deadline", resolveHEAD, testenv.Silent, resolve, 200 * time.Millisecond, "timed out after 200ms reading the image", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, arm := hostileRegistry(t, tc.bad, tc.m)
			s := storeAt(t, host, oci.Options{Timeout: timeout})
			image := pushImage(t, s, "hung")
			arm()
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = oci.WithDeadline(ctx, tc.deadline, host, "reading the image")
				defer cancel()
			}
			start := time.Now()
			err := tc.op(ctx, s, image)
			elapsed := time.Since(start)
			if tc.deadline > 0 {
				err = oci.DeadlineError(ctx, err)
			}
			checkTimeout(t, err, host, tc.want, elapsed, tc.bound)
		})
	}
}

// A TLS registry that takes the connection and never starts the
// handshake.
func TestSilentTLSHandshakeTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := testenv.TCPServer(t, func(c net.Conn, done <-chan struct{}) { <-done })
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, _, err := oci.OpenResolved(t.Context(), addr+"/app:v1", oci.Options{Timeout: timeout, CAFile: ca})
	checkTimeout(t, err, addr, "timed out after 300ms in the TLS handshake", time.Since(start), timeout)
}

// A body that keeps sending, however slowly, is not cut by the per-read
// bound: a large blob copy over a slow link goes on.
func TestSlowBodyWithinTimeoutIsRead(t *testing.T) {
	host, arm := hostileRegistry(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:")
	}, testenv.DripBody(time.Millisecond))
	s := storeAt(t, host, oci.Options{Timeout: 100 * time.Millisecond})
	image := pushImage(t, s, "slow")
	arm()
	start := time.Now()
	if _, err := oci.FetchBlob(t.Context(), s, image, 1<<20); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Fatalf("the manifest (%d bytes) came in %v: was it dripped?", image.Size, elapsed)
	}
}

func storeAt(t *testing.T, host string, o oci.Options) oci.Store {
	t.Helper()
	ref, err := oci.ParseReference(host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := oci.Open(t.Context(), ref, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkTimeout checks that err is a one-line timeout naming host and
// saying want, returned within bound (and not much later).
func checkTimeout(t *testing.T, err error, host, want string, elapsed, bound time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error after %v", elapsed)
	}
	msg := err.Error()
	var te *oci.TimeoutError
	if !errors.As(err, &te) {
		t.Errorf("%q is not a timeout", msg)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%q is not a net.Error that timed out", msg)
	}
	if !strings.Contains(msg, "registry "+host+": "+want) {
		t.Errorf("%q does not say %q", msg, "registry "+host+": "+want)
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("%q is more than one line", msg)
	}
	if elapsed < bound || elapsed > bound+1500*time.Millisecond {
		t.Errorf("gave up after %v, want about %v", elapsed, bound)
	}
	t.Logf("%v after %v", msg, elapsed.Round(time.Millisecond))
}
