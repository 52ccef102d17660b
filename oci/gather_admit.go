package oci

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
)

// admit decides what to keep of a fetched envelope: nothing (not in-toto
// evidence, or dropped by the screen), the document, or a problem that
// makes the referrer skipped. What is not kept gives its weight back. A
// final admission (a document fetched again) keeps only what is trusted
// and records no drop.
func (r *reader) admit(ctx context.Context, n *Node, l ocispec.Descriptor, raw []byte, weight int64, final bool) (*Document, string, error) {
	if r.screen == nil {
		d, problem, err := r.parse(ctx, n, l, raw)
		if d == nil {
			r.lease.release(weight)
			return nil, problem, err
		}
		d.weight, d.link, d.signed = weight, nil, nil // nothing screened it
		return d, "", nil
	}
	if len(raw) <= maxPooledDoc {
		return r.admitParsed(ctx, n, l, raw, weight, false, final)
	}
	return r.admitLarge(ctx, n, l, raw, weight, final)
}

// admitLarge screens a large envelope before decoding it: only its
// signatures are read, and the payload is decoded (straight into the
// bytes signed) only when a signature names a trusted key, or to tell
// another tool's in-toto Statement, ignored, from a layout or link.
func (r *reader) admitLarge(ctx context.Context, n *Node, l ocispec.Descriptor, raw []byte, weight int64, final bool) (*Document, string, error) {
	foreign := !IsRefereeType(n.ArtifactType)
	h, err := readHead(raw)
	switch {
	case err != nil && foreign:
		// attest would refuse it too: another tool's artifact that is
		// not an in-toto envelope.
		r.lease.release(weight)
		return nil, "", nil
	case err != nil:
		return r.admitParsed(ctx, n, l, raw, weight, false, final) // attest says what is wrong
	}
	ids := h.keyIDs()
	cands, unknown, epoch := r.screen.candidates(ids)
	some := false
	for _, c := range cands {
		some = some || len(c) > 0
	}
	kind := ""
	switch {
	case bool(h.Signed) && some:
		return r.admitParsed(ctx, n, l, raw, weight, false, final)
	case bool(h.Signed):
		kind = metablockType(raw)
	case some || foreign:
		w := min(int64(len(raw)), DefaultMaxBlobBytes)
		if err := r.decode.Acquire(ctx, w); err != nil {
			r.lease.release(weight)
			return nil, "", err
		}
		pae, payload, err := dsseSigned(raw)
		trusted := false
		if err == nil {
			kind = payloadType(payload)
			trusted = some && verifyDSSE(h, pae, cands)
		}
		pae, payload = nil, nil
		r.decode.Release(w)
		if err != nil || trusted {
			return r.admitParsed(ctx, n, l, raw, weight, trusted, final)
		}
	}
	r.lease.release(weight)
	if kind != "" && kind != "layout" && kind != "link" || foreign && kind == "" {
		return nil, "", nil // e.g. an in-toto Statement: not evidence for a layout
	}
	if final {
		return nil, "", nil
	}
	r.screen.drop(n, l, ids, unknown, epoch, fmt.Sprintf("layer %s: not read (%.1f MiB, %s; %s)", l.Digest, float64(len(raw))/(1<<20), untrusted, claimed(ids)))
	return nil, "", nil
}

// untrusted says which keys a document is not signed by.
const untrusted = "not signed by a layout key nor by a key that a layout signed by one names"

// admitParsed reads an envelope in full (attest's checks) and keeps it if
// trusted, or else if there is room in the pool.
func (r *reader) admitParsed(ctx context.Context, n *Node, l ocispec.Descriptor, raw []byte, weight int64, trusted, final bool) (*Document, string, error) {
	d, problem, err := r.parse(ctx, n, l, raw)
	if d == nil {
		r.lease.release(weight)
		return nil, problem, err
	}
	d.Raw, d.weight = nil, weight
	ok, unknown, epoch := trusted, false, 0
	if !ok {
		ok, unknown, epoch = r.screen.check(d.Envelope)
	}
	if ok {
		r.screen.keep(d)
		return d, "", nil
	}
	if !final && r.pool(d, int64(len(raw))) {
		return d, "", nil
	}
	r.lease.release(weight)
	if final {
		return nil, "", nil
	}
	ids := d.Envelope.SignerKeyIDs()
	r.screen.drop(n, l, ids, unknown, epoch, fmt.Sprintf("layer %s: not read (%s, and more than %d MiB of such documents, or one over %d MiB, are attached; %s)", l.Digest, untrusted, maxPooled>>20, maxPooledDoc>>20, claimed(ids)))
	return nil, "", nil
}

// pool adds an untrusted document of size bytes to the screen's pool, with
// its link's scan if there is room for that too (counted as twice the
// payload: the table and the bytes signed), or else without it: a
// document is refused only where it would be without the scans.
func (r *reader) pool(d *Document, size int64) bool {
	if d.link != nil && r.screen.pooled(d, size+2*int64(len(d.Envelope.Payload))) {
		return true
	}
	d.link, d.signed = nil, nil
	return r.screen.pooled(d, size)
}

// parse reads one envelope as a document (nil: not a layout or link of
// in-toto, or a problem with it), within the decode bound.
func (r *reader) parse(ctx context.Context, n *Node, l ocispec.Descriptor, raw []byte) (*Document, string, error) {
	w := min(int64(len(raw)), DefaultMaxBlobBytes)
	if err := r.decode.Acquire(ctx, w); err != nil {
		return nil, "", err
	}
	defer r.decode.Release(w)
	d, problem := parseDocument(n, l, raw, r.memo)
	return d, problem, nil
}

// parseDocument reads one envelope as referee reads evidence.
func parseDocument(n *Node, l ocispec.Descriptor, raw []byte, memo *attest.Memo) (*Document, string) {
	env, err := attest.ParseEnvelope(raw)
	if err != nil {
		if IsRefereeType(n.ArtifactType) {
			return nil, fmt.Sprintf("layer %s: %v", l.Digest, err)
		}
		return nil, "" // another tool's artifact that is not an in-toto envelope
	}
	kind, err := env.PayloadKind()
	if err != nil || (kind != "layout" && kind != "link") {
		return nil, "" // e.g. an in-toto Statement (cosign, BuildKit): not evidence for a layout
	}
	// Its signatures are checked here (the evidence screen) and again by
	// the engine.
	env.Memoize(memo)
	d := &Document{Referrer: n, Kind: kind, Envelope: env, Raw: raw}
	keyid := firstKeyID(env)
	switch kind {
	case "link":
		// A link read in one pass, as the engine reads it, which checks
		// it whole (its table is not kept: the engine reads it again,
		// bounded by its own budget); the long way says what is wrong.
		if link, signed, ok := attest.ScanLink(env); ok {
			d.Step = link.Name
			if len(env.Payload) <= maxScanKept {
				d.link, d.signed = link, signed
			}
		} else if full, err := attest.ParseLink(env.Payload); err != nil {
			return nil, fmt.Sprintf("layer %s: %v", l.Digest, err)
		} else {
			d.Step = full.Name
		}
		d.FileName = attest.LinkFileName(d.Step, keyid)
	case "layout":
		d.Step = n.Annotations[AnnotationStep]
		d.FileName = "root.layout"
		if d.Step != "" {
			d.FileName = attest.LinkFileName(d.Step, keyid)
		}
	}
	return d, ""
}
