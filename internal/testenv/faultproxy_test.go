package testenv_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/referee-dev/referee/internal/testenv"
)

// TestFaultProxy sends requests straight (no retries) through proxies
// failing none, all and a tenth of them, and checks what the client saw
// against what the proxy counted: 503 with Retry-After: 0, connections
// cut without an answer, and cut writes the registry applied.
func TestFaultProxy(t *testing.T) {
	backend := testenv.Registry(t, false)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// send makes one request and says what came back: "ok", "503" or "cut".
	send := func(host, method, path string, body []byte) string {
		req, err := http.NewRequest(method, "http://"+host+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("%s %s: %v", method, path, err)
			}
			return "cut"
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			if ra := resp.Header.Get("Retry-After"); ra != "0" {
				t.Errorf("503 with Retry-After %q", ra)
			}
			return "503"
		case resp.StatusCode/100 == 2:
			return "ok"
		}
		return resp.Status
	}

	for _, tc := range []struct {
		name string
		rate float64
	}{{"none", 0}, {"all", 1}, {"tenth", 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			p := testenv.NewFaultProxy(t, backend, tc.rate, 7)
			const n = 400
			seen := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range n / 8 {
						got := send(p.Host, http.MethodGet, "/v2/", nil)
						mu.Lock()
						seen[got]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			c := p.Counts()
			if c.Requests != n || seen["ok"]+seen["503"]+seen["cut"] != n {
				t.Fatalf("sent %d, proxy counted %+v, client saw %v", n, c, seen)
			}
			if seen["503"] != c.Unavailable || seen["cut"] != c.CutBefore+c.CutAfter || seen["ok"] != n-c.Faults() {
				t.Errorf("client saw %v, proxy counted %+v", seen, c)
			}
			want := int(tc.rate * n)
			if f := c.Faults(); f < want*7/10 || f > want*13/10+1 {
				t.Errorf("%d faults of %d requests at rate %v", f, n, tc.rate)
			}
			if tc.rate == 1 && (c.Unavailable == 0 || c.CutBefore == 0 || c.CutAfter == 0) {
				t.Errorf("not every kind of fault: %+v", c)
			}
			t.Logf("%+v", c)
		})
	}

	// A write cut after forwarding was applied: the blob is there,
	// though the client saw no answer.
	t.Run("cut after the write", func(t *testing.T) {
		p := testenv.NewFaultProxy(t, backend, 1, 3)
		applied := 0
		for i := range 40 {
			data := []byte(strings.Repeat("x", i+1))
			d := digest.FromBytes(data)
			before := p.Counts()
			got := send(p.Host, http.MethodPost, "/v2/app/blobs/uploads/?digest="+d.String(), data)
			after := p.Counts()
			exists := send(backend, http.MethodHead, "/v2/app/blobs/"+d.String(), nil) == "ok"
			switch {
			case after.CutAfterWrites > before.CutAfterWrites:
				if got != "cut" || !exists {
					t.Errorf("write cut after forwarding: client saw %s, blob there: %v", got, exists)
				}
				applied++
			case exists:
				t.Errorf("blob %d stored though the proxy did not forward its write (%s)", i, got)
			}
		}
		if applied == 0 {
			t.Error("no write was cut after forwarding")
		}
	})
}
