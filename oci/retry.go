package oci

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/referee-dev/referee/internal/lazyre"
)

// Bounds of the retries of one request.
const (
	maxRetries   = 5
	retryBase    = 100 * time.Millisecond
	retryMaxWait = 3 * time.Second
	retryJitter  = 0.2
)

// retryTransport sends a request again where that is safe, with
// oras-go's retry transport (bounded attempts, backoff, the request's
// context respected) and a policy chosen by what the request does
// (requestKindOf):
//
//   - an idempotent request (GET, HEAD, DELETE; a manifest PUT by digest;
//     a manifest PUT to an ordinary tag, which repeats the same bytes; the
//     POST that begins a blob upload, whose repetition only leaves an
//     unused session) is retried when its connection was cut before an
//     answer (EOF, reset) and on 408, 429 and 5xx;
//   - a PATCH or PUT of a blob upload session is never retried here: a
//     cut one may have consumed the session, so the whole upload is begun
//     again from a new session by pushRestarting, after checking whether
//     the blob arrived;
//   - a PUT of a referrers tag-schema index is never retried: it is the
//     write of a read-modify-write, and sent again later it would carry a
//     stale read (see writeTagIndex);
//   - anything else (a token request) is retried on 429 and 503 only.
//
// A request that timed out (Options.Timeout) is never retried: the
// registry had its time, and retrying would multiply it.
// A Retry-After of 429 and 503 answers is honoured (up to retryMaxWait).
type retryTransport struct {
	next http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := requestKindOf(req)
	rt := retry.Transport{Base: t.next, Policy: func() retry.Policy {
		return &retry.GenericPolicy{
			Retryable: func(resp *http.Response, err error) (bool, error) { return retryable(kind, resp, err), nil },
			Backoff:   backoff,
			MaxWait:   retryMaxWait,
			MaxRetry:  maxRetries,
		}
	}}
	return rt.RoundTrip(req)
}

// requestKind classifies a request by whether it is safe to send twice.
type requestKind int

const (
	kindOther      requestKind = iota
	kindIdempotent             // same effect however often it is sent
	kindOnce                   // never sent again by the transport
)

// referrersTagRE matches the tags of the referrers tag schema
// (<alg>-<hex digest>).
var referrersTagRE = lazyre.New(`^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})$`)

// requestKindOf classifies req by its method and its path (distribution-spec
// endpoints, /v2/<name>/manifests/<reference> and
// /v2/<name>/blobs/uploads/[<session>]).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#endpoints
func requestKindOf(req *http.Request) requestKind {
	path := req.URL.Path
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		return kindIdempotent
	case http.MethodPost:
		if strings.HasSuffix(path, "/blobs/uploads/") || strings.HasSuffix(path, "/blobs/uploads") {
			return kindIdempotent // begins a session (or mounts a blob)
		}
	case http.MethodPatch:
		if strings.Contains(path, "/blobs/uploads/") {
			return kindOnce
		}
	case http.MethodPut:
		if strings.Contains(path, "/blobs/uploads/") {
			return kindOnce
		}
		if i := strings.LastIndex(path, "/manifests/"); i >= 0 {
			if referrersTagRE().MatchString(path[i+len("/manifests/"):]) {
				return kindOnce
			}
			return kindIdempotent
		}
	}
	return kindOther
}

// retryable reports whether a request of kind that ended with resp or err
// is sent again.
func retryable(kind requestKind, resp *http.Response, err error) bool {
	if kind == kindOnce {
		return false
	}
	if err != nil {
		return kind == kindIdempotent && connectionCut(err)
	}
	code := resp.StatusCode
	if kind == kindOther {
		return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
	}
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests ||
		code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// connectionCut reports whether err is a connection that broke without
// an answer (closed, reset), not a refused connection, a timeout, a cancelled
// request or a refusal of the TLS handshake.
func connectionCut(err error) bool {
	if timedOut(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE} {
		if errors.Is(err, e) {
			return true
		}
	}
	// net/http's own words for a kept-alive connection the server closed
	// (its error value is not exported).
	return strings.Contains(err.Error(), "server closed idle connection")
}

// timedOut reports whether err is a timeout (Options.Timeout, or a dial
// or read that timed out).
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// backoff waits what a 429 or 503 answer's Retry-After asks (in seconds,
// 0 meaning at once), otherwise retryBase doubled per attempt, with
// jitter.
func backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, retryMaxWait)
		}
	}
	d := float64(retryBase) * float64(int64(1)<<min(attempt, 10))
	return time.Duration(d * (1 - retryJitter + 2*retryJitter*rand.Float64()))
}

// restartable reports whether a push that failed with err may be begun
// again: its connection was cut, the registry answered 408, 429 or 5xx,
// or it lost the upload session (BLOB_UPLOAD_UNKNOWN, as after a cut
// session PUT it had applied). A timeout is not restarted.
func restartable(err error) bool {
	if err == nil || timedOut(err) {
		return false
	}
	if connectionCut(err) {
		return true
	}
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return er.StatusCode == http.StatusRequestTimeout || er.StatusCode == http.StatusTooManyRequests || er.StatusCode >= 500 ||
		hasErrorCode(err, errcode.ErrorCodeBlobUploadUnknown)
}
