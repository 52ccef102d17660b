package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/webhook"
)

// BenchmarkHandlerCached measures decisions answered from the cache (a
// Pod by digest), 8 requests at a time over HTTPS keep-alive on
// loopback, the load generator in the same process: reviews/s and the
// 99th percentile latency. BenchmarkHandlerBaseline is the same load on
// a handler that decodes the review and answers allowed without looking.
func BenchmarkHandlerCached(b *testing.B) {
	f := newFixture(b, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{TTL: time.Hour})
	body, err := json.Marshal(podReview(b, admissionv1.Create, "shop", f.good))
	if err != nil {
		b.Fatal(err)
	}
	load(b, webhook.Handler(d, webhook.HandlerOptions{}), body)
	if st := d.Stats(); st.Verifications != 1 {
		b.Fatalf("stats %+v: not answered from the cache", st)
	}
}

func BenchmarkHandlerBaseline(b *testing.B) {
	body, err := json.Marshal(podReview(b, admissionv1.Create, "shop", "registry.example.com/shop/app@sha256:"+strings.Repeat("a", 64)))
	if err != nil {
		b.Fatal(err)
	}
	load(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		review, err := webhook.DecodeReview(data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}), body)
}

// load posts body to h's /verify b.N times, 8 at a time over HTTPS
// keep-alive, and reports reviews/s and the p99 latency.
func load(b *testing.B, h http.Handler, body []byte) {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	send := func() {
		resp, err := c.Post(srv.URL+"/verify?timeout=10s", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(data, []byte(`"allowed":true`)) {
			b.Errorf("not allowed: %s", data)
		}
	}
	send() // connects (and, for a Decider, verifies once and fills the cache)
	const parallel = 8
	lat := make([][]time.Duration, parallel)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				send()
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reviews/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDecideCold measures a first decision of a Pod of 8 containers
// sharing 2 images (by digest) on a registry 20 ms away, in round trips.
func BenchmarkDecideCold(b *testing.B) {
	f := newFixture(b, "")
	const rtt = 20 * time.Millisecond
	f.reg.delay.Store(int64(rtt))
	// The honest image and the one with copied evidence (verified as
	// fully, and denied), four containers each.
	review := podReview(b, admissionv1.Create, "shop", f.good, f.good, f.good, f.good, f.evil, f.evil, f.evil, f.evil)
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
		t0 := time.Now()
		d.Decide(b.Context(), review, 10*time.Second)
		total += time.Since(t0)
		if st := d.Stats(); st.Verifications != 2 {
			b.Fatalf("stats %+v", st)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(rtt), "round-trips")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/decision")
}
