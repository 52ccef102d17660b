package oci

import "net/http"

// ForBatch returns o with one HTTP client that every store opened with the
// result shares: the images of a batch (`verify -`, promote's CheckMany)
// then reuse their connections to a registry instead of each opening its
// own (on a distant registry a new connection costs a round trip, two
// with TLS, before its first request). idle is how many idle connections
// are kept per registry (at least DefaultParallel); about the requests
// the batch has in flight at once. Timeout and CAFile apply as for a
// store opened with o; an o that already has an HTTPClient is returned
// unchanged. Call done when the batch is over: it closes the idle
// connections.
func (o Options) ForBatch(idle int) (_ Options, done func(), err error) {
	if o.HTTPClient != nil {
		return o, func() {}, nil
	}
	tr, err := o.transport()
	if err != nil {
		return o, func() {}, err
	}
	tr.MaxIdleConnsPerHost = max(idle, DefaultParallel)
	tr.MaxIdleConns = 0 // no bound over all registries; each is bounded above
	o.HTTPClient = &http.Client{Transport: &timeoutTransport{next: tr, timeout: o.requestTimeout()}}
	return o, tr.CloseIdleConnections, nil
}
