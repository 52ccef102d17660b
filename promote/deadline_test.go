package promote_test

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// In a batch, a registry that hangs for one image (silent, slowloris
// headers, or a referrers listing that drips a byte at a time, slowly
// enough to pass the per-request timeout) costs that image its deadline
// and nothing more: it is an error (not "not verified") naming its
// registry and the deadline, and the other images are verified, whether
// the batch runs one image at a time or all at once.
func TestCheckManyHungRegistry(t *testing.T) {
	const deadline = 500 * time.Millisecond
	good := serve(t, false) + "/app"
	dir := t.TempDir()
	image, err := demo.Run(t.Context(), demo.Options{Dir: dir, Registry: good, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := attest.LoadPublicKey(filepath.Join(dir, "owner.pub"))
	if err != nil {
		t.Fatal(err)
	}
	_, digest, _ := strings.Cut(image, "@")
	goodHost, _, _ := strings.Cut(good, "/")
	for _, tc := range []struct {
		name string
		host func(t *testing.T) string
	}{
		{"silent", func(t *testing.T) string {
			return testenv.TCPServer(t, func(_ net.Conn, done <-chan struct{}) { <-done })
		}},
		{"slowloris headers", func(t *testing.T) string { return hangingProxy(t, goodHost, testenv.DripHeaders(50*time.Millisecond)) }},
		{"referrers listing drips", func(t *testing.T) string { return hangingProxy(t, goodHost, testenv.DripBody(50*time.Millisecond)) }},
	} {
		for _, parallel := range []int{1, 3} {
			t.Run(tc.name+"/"+map[int]string{1: "one at a time", 3: "all at once"}[parallel], func(t *testing.T) {
				hung := tc.host(t)
				refs := []string{hung + "/app@" + digest, image, good + "@" + digest}
				o := promote.CheckOptions{
					Full:     verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}},
					OCI:      oci.Options{Timeout: 300 * time.Millisecond},
					Deadline: deadline,
				}
				if tc.name != "referrers listing drips" {
					o.OCI.Timeout = time.Minute // only the deadline ends it
				}
				start := time.Now()
				var outs []promote.Outcome
				var when []time.Duration
				err := promote.CheckMany(t.Context(), refs, o, parallel, func(out promote.Outcome) error {
					outs = append(outs, out)
					when = append(when, time.Since(start))
					return nil
				})
				if err != nil || len(outs) != 3 {
					t.Fatalf("CheckMany: %v, %d outcomes", err, len(outs))
				}
				hungOut := outs[0]
				var te *oci.TimeoutError
				want := "registry " + hung + ": timed out after 500ms checking " + refs[0]
				switch {
				case hungOut.Err == nil || verify.IsNotVerified(hungOut.Err):
					t.Errorf("hung image: %v, want an error", hungOut.Err)
				case !errors.As(hungOut.Err, &te) || hungOut.Err.Error() != want:
					t.Errorf("hung image: %q, want %q", hungOut.Err, want)
				}
				if when[0] < deadline || when[0] > deadline+time.Second {
					t.Errorf("hung image reported after %v, deadline %v", when[0], deadline)
				}
				for i, out := range outs[1:] {
					if !out.Verified() {
						t.Errorf("%s: %v", refs[i+1], out.Err)
					}
				}
				if total := when[2]; total > deadline+3*time.Second {
					t.Errorf("the batch took %v", total)
				}
				t.Logf("%v after %v; batch %v", hungOut.Err, when[0].Round(time.Millisecond), when[2].Round(time.Millisecond))
			})
		}
	}
}

// hangingProxy is a reverse proxy in front of the registry at backend
// that answers referrers listings with hang, and everything else as the
// registry does.
func hangingProxy(t *testing.T, backend string, hang testenv.Misbehaviour) string {
	t.Helper()
	next := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
			hang(w, r, next, done)
			return
		}
		next.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return strings.TrimPrefix(srv.URL, "http://")
}
