package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
)

// HandlerOptions controls Handler.
type HandlerOptions struct {
	// Metrics is the registry /metrics serves and the webhook's metrics
	// are registered with; nil means a registry of the handler's own.
	Metrics *prometheus.Registry
	// Ready reports whether the webhook can decide (/readyz); nil means
	// ready once the Decider has a policy.
	Ready func() error
}

// Handler serves the webhook's endpoints (it does not do TLS: the server
// that runs it does):
//
//   - POST /verify: an AdmissionReview v1 in, the same with the
//     Decider's response out (the validating webhook). The apiserver's
//     ?timeout= bounds the decision. A body that is not an
//     AdmissionReview v1 is answered 400, which the apiserver treats as
//     the webhook failing: under failurePolicy: Fail, a denial.
//   - POST /mutate: an AdmissionReview v1 in, the Decider's Mutate
//     response out (the mutating webhook: tags pinned to their digest by
//     a JSON Patch; it never refuses). Counted as outcome pinned or
//     unpinned.
//   - GET /healthz: the process answers; GET /readyz: it can decide.
//   - GET /metrics: Prometheus metrics: referee_webhook_requests_total by
//     outcome (allowed, denied, bad_request; for /mutate pinned,
//     unpinned), the decision latency
//     histogram referee_webhook_decision_seconds, and the cache's hits,
//     misses, verifications and stale admissions.
func Handler(d *Decider, o HandlerOptions) http.Handler {
	reg := o.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := newMetrics(reg, d)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /verify", func(w http.ResponseWriter, r *http.Request) { serveReview(w, r, m, d.Decide) })
	mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) { serveReview(w, r, m, d.Mutate) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		err := errors.New("no policy loaded")
		if d.Policy() != nil {
			err = nil
			if o.Ready != nil {
				err = o.Ready()
			}
		}
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, d *Decider) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "referee_webhook_requests_total", Help: "AdmissionReviews answered, by outcome (allowed, denied, bad_request; /mutate: pinned, unpinned).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "referee_webhook_decision_seconds", Help: "Time to decide an AdmissionReview.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	stat := func(name, help string, f func(Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(d.Stats())) })
	}
	reg.MustRegister(m.requests, m.latency,
		stat("referee_webhook_cache_hits_total", "Decisions of a digest answered from the cache.", func(s Stats) int64 { return s.Hits }),
		stat("referee_webhook_cache_misses_total", "Decisions of a digest not in the cache.", func(s Stats) int64 { return s.Misses }),
		stat("referee_webhook_verifications_total", "Verifications run (one per digest in flight).", func(s Stats) int64 { return s.Verifications }),
		stat("referee_webhook_stale_admissions_total", "Images admitted under staleIfError during a registry error.", func(s Stats) int64 { return s.Stale }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "referee_webhook_cache_entries", Help: "Decisions in the cache."},
			func() float64 { return float64(d.Stats().Entries) }),
	)
	return m
}

type answer func(ctx context.Context, review *admissionv1.AdmissionReview, timeout time.Duration) *admissionv1.AdmissionResponse

func serveReview(w http.ResponseWriter, r *http.Request, m *metrics, decide answer) {
	start := time.Now()
	bad := func(msg string) {
		m.requests.WithLabelValues("bad_request").Inc()
		http.Error(w, msg, http.StatusBadRequest)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
	if err != nil {
		bad(fmt.Sprintf("reading the admission review: more than %d bytes, or %v", MaxReviewBytes, err))
		return
	}
	review, err := DecodeReview(data)
	if err != nil {
		bad(err.Error())
		return
	}
	var timeout time.Duration
	if t := r.URL.Query().Get("timeout"); t != "" {
		if timeout, err = time.ParseDuration(t); err != nil {
			bad(fmt.Sprintf("timeout %q is not a duration", t))
			return
		}
	}
	resp := decide(r.Context(), review, timeout)
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
	if err != nil {
		bad(err.Error())
		return
	}
	outcome := "denied"
	switch {
	case r.URL.Path == "/mutate" && resp.PatchType != nil:
		outcome = "pinned"
	case r.URL.Path == "/mutate":
		outcome = "unpinned"
	case resp.Allowed:
		outcome = "allowed"
	}
	m.requests.WithLabelValues(outcome).Inc()
	m.latency.Observe(time.Since(start).Seconds())
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}
