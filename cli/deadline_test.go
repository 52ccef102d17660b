package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/cli"
)

// drippingRegistry answers /v2/ and then drips every other response, one
// byte per 50ms: never silent for long, never done.
func drippingRegistry(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		ct := "application/vnd.oci.image.manifest.v1+json"
		if strings.Contains(r.URL.Path, "/referrers/") {
			ct = "application/vnd.oci.image.index.v1+json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", "100000")
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("ab", 32))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		for {
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				_, _ = w.Write([]byte(" "))
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestDeadlineEndsADrippingRegistry: --timeout alone never fires on a
// registry that keeps dripping; --deadline ends the command, with one line
// naming the registry and the deadline.
func TestDeadlineEndsADrippingRegistry(t *testing.T) {
	host := drippingRegistry(t)
	for _, args := range [][]string{
		{"discover", host + "/app:v1"},
		{"verify", host + "/app:v1", "-k", "nope.pub"},
	} {
		t.Run(args[0], func(t *testing.T) {
			if args[0] == "verify" {
				dir := t.TempDir()
				t.Chdir(dir)
				mustCLI(t, "keygen", "nope")
			}
			start := time.Now()
			code, _, stderr := referee(t, append(args, "--timeout", "5s", "--deadline", "700ms")...)
			took := time.Since(start)
			if code != cli.ExitError || !strings.Contains(stderr, host) || !strings.Contains(stderr, "timed out after 700ms") {
				t.Errorf("exit %d: %s", code, stderr)
			}
			checkOneLine(t, stderr)
			if took > 4*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}
