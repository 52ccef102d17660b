package promote_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// speedupRTT is the round trip the distant registry of the batch
// benchmarks is away.
const speedupRTT = 20 * time.Millisecond

// distantRegistry serves h as if it were rtt away: every request waits
// rtt before it is handled and, with connect, a new connection waits rtt
// more before its first request is read (TCP's handshake; TLS would add
// another). It counts requests and connections.
type distantRegistry struct {
	host     string
	proxy    *testenv.DelayHandler // counts the requests
	connects atomic.Int64
}

func newDistantRegistry(tb testing.TB, h http.Handler, rtt time.Duration, connect bool) *distantRegistry {
	tb.Helper()
	d := &distantRegistry{proxy: &testenv.DelayHandler{Next: h, Delay: rtt}}
	srv := httptest.NewUnstartedServer(d.proxy)
	srv.Listener = &slowAccept{Listener: srv.Listener, d: d, delay: map[bool]time.Duration{true: rtt}[connect]}
	srv.Start()
	tb.Cleanup(srv.Close)
	d.host = strings.TrimPrefix(srv.URL, "http://")
	return d
}

type slowAccept struct {
	net.Listener
	d     *distantRegistry
	delay time.Duration
}

func (l *slowAccept) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.d.connects.Add(1)
		c = &slowFirstRead{Conn: c, delay: l.delay}
	}
	return c, err
}

// slowFirstRead delays the first read of a connection.
type slowFirstRead struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *slowFirstRead) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(p)
}

// batchImages pushes n images, each in its own repository (as the images
// of a cluster are), each with a layout and three links bound to it, and
// returns their references through the distant registry, and the owner
// key. Every image having its own repository keeps the in-process
// registry's referrers listing (which reads every manifest of the
// repository) from measuring itself.
func batchImages(b testing.TB, n int, connect bool) ([]string, *attest.Key, *distantRegistry) {
	b.Helper()
	// go-containerregistry's registry, in memory: of the in-process
	// registries the one that costs the least CPU, which this machine's
	// two cores share with referee.
	h := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	direct := httptest.NewServer(h)
	b.Cleanup(direct.Close)
	far := newDistantRegistry(b, h, speedupRTT, connect)
	images, owner := pushBenchImages(b, strings.TrimPrefix(direct.URL, "http://"), n, func(i int) string { return fmt.Sprintf("app%03d", i) }, "v1")
	var refs []string
	for _, img := range images {
		refs = append(refs, far.host+"/"+img.repo+":v1")
	}
	return refs, owner, far
}

// BenchmarkCheckManySpeedup verifies 100 images by tag (as `referee
// verify -` reads them), each in its own repository of a registry 20 ms
// away, one at a time and then at promote.DefaultParallel at once, in the
// same iteration, and reports the speed-up (the goal is 20x), the wall
// time of each in round trips, and the requests and new connections per
// image. With connect=rtt a new connection costs a round trip before its
// first request, as TCP's handshake does; with connect=free it costs
// nothing, as the other benchmarks assume.
func BenchmarkCheckManySpeedup(b *testing.B) {
	for _, connect := range []bool{false, true} {
		b.Run(map[bool]string{false: "connect=free", true: "connect=rtt"}[connect], func(b *testing.B) {
			refs, owner, far := batchImages(b, 100, connect)
			o := promote.CheckOptions{Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}}}
			var cpu time.Duration
			run := func(parallel int) (time.Duration, int64, int64) {
				r0, c0 := far.proxy.Requests.Load(), far.connects.Load()
				cpu0 := cpuTime()
				defer func() { cpu += cpuTime() - cpu0 }()
				start := time.Now()
				checkAll(b, refs, o, parallel)
				return time.Since(start), far.proxy.Requests.Load() - r0, far.connects.Load() - c0
			}
			var one, many time.Duration
			var reqs, conns int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d1, _, _ := run(1)
				dn, r, c := run(promote.DefaultParallel)
				one, many, reqs, conns = one+d1, many+dn, reqs+r, conns+c
			}
			n := float64(b.N)
			rt := func(d time.Duration) float64 { return float64(d) / n / float64(speedupRTT) }
			b.ReportMetric(float64(one)/float64(many), "x-speedup")
			b.ReportMetric(rt(one), "round-trips-one-at-a-time")
			b.ReportMetric(rt(many), "round-trips-at-default-parallel")
			b.ReportMetric(float64(reqs)/n/float64(len(refs)), "requests/image")
			b.ReportMetric(float64(conns)/n/float64(len(refs)), "connections/image")
			// Client and in-process registry together, both runs.
			b.ReportMetric(float64(cpu)/n/float64(2*len(refs))/float64(time.Millisecond), "cpu-ms/image")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
