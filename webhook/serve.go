package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultReload is how often Serve looks for a changed policy file or
// certificate.
const DefaultReload = 2 * time.Second

// ServeOptions configures Serve.
type ServeOptions struct {
	// Addr is the address to listen on (":8443").
	Addr string
	// TLSCertFile and TLSKeyFile are the serving certificate (chain) and
	// its key, PEM. Both are required: the apiserver calls webhooks over
	// HTTPS only. They are read again when they change (cert-manager
	// rotates them in place); a broken new pair keeps the old one.
	TLSCertFile, TLSKeyFile string
	// PolicyFile, when set, is loaded again when it changes (by
	// Decider.LoadPolicy: a broken new version keeps the old one, and
	// Logger says why).
	PolicyFile string
	// Reload is how often the files are looked at; zero means
	// DefaultReload.
	Reload time.Duration
	// Handler is what is served; nil means Handler(d, HandlerOptions{}).
	Handler http.Handler
	// Logger receives reloads, refused reloads and the server's errors
	// (failed TLS handshakes); nil discards them.
	Logger *log.Logger
	// Ready, when set, is called with the address listened on.
	Ready func(net.Addr)
}

// Serve serves d's admission endpoints (Handler) over HTTPS on o.Addr
// until ctx ends, then shuts down, letting requests in flight finish for
// up to five seconds. The policy file and the certificate are reloaded
// when they change.
func Serve(ctx context.Context, d *Decider, o ServeOptions) error {
	if o.TLSCertFile == "" || o.TLSKeyFile == "" {
		return errors.New("the webhook is served over HTTPS only: give the certificate and its key (--tls-cert, --tls-key)")
	}
	logger := o.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	certs, err := newCertReloader(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return err
	}
	h := o.Handler
	if h == nil {
		h = Handler(d, HandlerOptions{})
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          logger,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get},
	}
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	every := o.Reload
	if every <= 0 {
		every = DefaultReload
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watch(done, every, o.PolicyFile, d, certs, logger)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = srv.Shutdown(shut)
		cancel()
	}
	close(done)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// watch reloads the policy file and the certificate when they change,
// until done is closed.
func watch(done <-chan struct{}, every time.Duration, policy string, d *Decider, certs *certReloader, logger *log.Logger) {
	last := stamp(policy)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if policy != "" {
			if now := stamp(policy); now != last {
				last = now
				if err := d.LoadPolicy(policy); err != nil {
					logger.Printf("policy %s not reloaded: %v", policy, err)
				} else {
					logger.Printf("policy %s reloaded (generation %s)", policy, d.Policy().Generation)
				}
			}
		}
		if err := certs.reload(); err != nil {
			logger.Printf("certificate not reloaded (the previous one stays in use): %v", err)
		}
	}
}

// stamp identifies a file's version by its modification time and size.
func stamp(path string) string {
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d", st.ModTime().UnixNano(), st.Size())
}

// certReloader serves the certificate of two files, read again when
// either changes.
type certReloader struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
	stamp, failed     string // the files' version loaded, and the last that failed
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) reload() error {
	s := stamp(c.certFile) + "," + stamp(c.keyFile)
	c.mu.RLock()
	same := s == c.stamp || s == c.failed
	c.mu.RUnlock()
	if same {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed = s
		return fmt.Errorf("certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, s
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}
