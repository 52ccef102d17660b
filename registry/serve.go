package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// Serve listens on addr (host:port; port 0 picks a free port), calls ready
// (if not nil) with the address actually bound, and serves r until ctx is
// cancelled; it then stops accepting connections and waits up to five
// seconds for requests in flight. It returns nil after a shutdown caused by
// ctx, and the error otherwise.
//
// With Options.TLSCertFile it serves HTTPS (TLS 1.2 or later), and plain
// HTTP requests are refused. An address that is not loopback (checked on
// the address bound, so "" and 0.0.0.0 count as remote) is refused unless
// the registry has both TLS and an htpasswd file: Basic credentials sent in
// clear could be read and replayed, and without them anyone who can reach
// the registry could push and delete.
func (r *Registry) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	return serve(ctx, addr, r, r.tls != nil, r.auth, r.log, func(srv *http.Server, ln net.Listener) error {
		if r.tls == nil {
			return srv.Serve(ln)
		}
		srv.TLSConfig = r.tls.Clone()
		return srv.ServeTLS(ln, "", "")
	}, ready)
}

// Serve serves h as (*Registry).Serve does. If h is a *Registry it is that
// registry's Serve; any other handler is served over plain HTTP, on
// loopback only.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	if r, ok := h.(*Registry); ok {
		return r.Serve(ctx, addr, ready)
	}
	return serve(ctx, addr, h, false, false, nil, (*http.Server).Serve, ready)
}

// serve runs h on addr with run (Serve or ServeTLS); the server's own
// errors (failed TLS handshakes, for one) go to logger, nil discarding them.
func serve(ctx context.Context, addr string, h http.Handler, hasTLS, hasAuth bool, logger *log.Logger,
	run func(*http.Server, net.Listener) error, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if err := checkRemote(addr, ln.Addr(), hasTLS, hasAuth); err != nil {
		ln.Close()
		return err
	}
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: logger}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- run(srv, ln) }()
	select {
	case err := <-errc:
		return err // Serve never returns nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("registry shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkRemote refuses a bound address that is not loopback unless the
// registry has TLS and authentication; the error names what is missing.
func checkRemote(addr string, bound net.Addr, hasTLS, hasAuth bool) error {
	if ta, ok := bound.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return nil
	}
	var missing []string
	if !hasTLS {
		missing = append(missing, "TLS (a certificate and key)")
	}
	if !hasAuth {
		missing = append(missing, "an htpasswd file (authentication)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("registry address %s is not loopback, and beyond loopback the registry needs %s", addr, strings.Join(missing, " and "))
}
