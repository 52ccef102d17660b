package oci

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
)

// Document is one signed in-toto layout or link found among an image's
// referrers. Kind and, for links, Step come from the signed content; the
// step of a sublayout comes from its annotation (a layout has no name, as
// in-toto takes it from the file name).
type Document struct {
	// Referrer is the manifest that holds the document.
	Referrer *Node
	Kind     string
	Step     string
	Envelope *attest.Envelope
	// Raw is the envelope file as stored.
	Raw []byte
	// FileName is the name in-toto-verify expects: STEP.KEYID8.link, or
	// root.layout.
	FileName string
	// Sub holds the documents attached to a sublayout (its links).
	Sub []*Document
}

// Skipped is a referrer that looked like in-toto evidence but is not usable,
// and why.
type Skipped struct {
	Digest string `json:"digest"`
	Reason string `json:"reason"`
}

// Bundle is the in-toto evidence attached to one image.
type Bundle struct {
	Graph   *Node
	Layouts []*Document
	Links   []*Document
	Skipped []Skipped
}

// Gather walks subject's referrer graph and reads every in-toto envelope in
// it: referee's own artifacts and in-toto files attached by other tools.
// Envelope blobs are checked against digest and size and refused above
// maxBlob. Nothing here verifies signatures: that is verify's job.
func Gather(ctx context.Context, s content.ReadOnlyGraphStorage, graph *Node, maxBlob int64, parallel int) (*Bundle, error) {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlobBytes
	}
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	docs := map[*Node][]*Document{}
	var problems = map[*Node]string{}
	var nodes []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Referrers {
			if c.Problem == "" {
				nodes = append(nodes, c)
				walk(c)
			}
		}
	}
	walk(graph)
	results := make([][]*Document, len(nodes))
	errs := make([]string, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, n := range nodes {
		g.Go(func() error {
			results[i], errs[i] = readDocuments(gctx, s, n, maxBlob)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, n := range nodes {
		docs[n] = results[i]
		if errs[i] != "" {
			problems[n] = errs[i]
		}
	}
	b := &Bundle{Graph: graph}
	for _, n := range nodes {
		if p, ok := problems[n]; ok {
			b.Skipped = append(b.Skipped, Skipped{Digest: n.Digest, Reason: p})
		}
	}
	// Direct referrers of the image are root layouts and links; documents
	// attached to a sublayout's manifest are that sublayout's links.
	var place func(parent *Node, into *[]*Document, top bool)
	place = func(parent *Node, into *[]*Document, top bool) {
		for _, c := range parent.Referrers {
			for _, d := range docs[c] {
				if d.Kind == "layout" && d.Step == "" && top {
					b.Layouts = append(b.Layouts, d)
					continue
				}
				if d.Kind == "layout" && d.Step == "" {
					b.Skipped = append(b.Skipped, Skipped{Digest: c.Digest, Reason: "a layout attached below another referrer without a step annotation"})
					continue
				}
				if d.Kind == "layout" {
					place(c, &d.Sub, false)
				}
				*into = append(*into, d)
			}
		}
	}
	place(graph, &b.Links, true)
	sortDocs(b.Layouts)
	sortDocs(b.Links)
	return b, nil
}

// readDocuments reads the in-toto envelopes of one referrer; a referrer
// that does not look like in-toto evidence gives none.
func readDocuments(ctx context.Context, s content.Fetcher, n *Node, maxBlob int64) ([]*Document, string) {
	var out []*Document
	for _, l := range n.layers {
		if !mayHoldInToto(n.ArtifactType, l.MediaType, l.Annotations[AnnotationTitle]) {
			continue
		}
		raw, err := fetchAll(ctx, s, l, maxBlob)
		if err != nil {
			return nil, err.Error()
		}
		env, err := attest.ParseEnvelope(raw)
		if err != nil {
			if IsRefereeType(n.ArtifactType) {
				return nil, fmt.Sprintf("layer %s: %v", l.Digest, err)
			}
			continue // another tool's artifact that is not an in-toto envelope
		}
		kind, err := env.PayloadKind()
		if err != nil || (kind != "layout" && kind != "link") {
			continue // e.g. an in-toto Statement (cosign, BuildKit): not evidence for a layout
		}
		d := &Document{Referrer: n, Kind: kind, Envelope: env, Raw: raw}
		keyid := firstKeyID(env)
		switch kind {
		case "link":
			link, err := attest.ParseLink(env.Payload)
			if err != nil {
				return nil, fmt.Sprintf("layer %s: %v", l.Digest, err)
			}
			d.Step = link.Name
			d.FileName = attest.LinkFileName(d.Step, keyid)
		case "layout":
			d.Step = n.Annotations[AnnotationStep]
			d.FileName = "root.layout"
			if d.Step != "" {
				d.FileName = attest.LinkFileName(d.Step, keyid)
			}
		}
		out = append(out, d)
	}
	return out, ""
}

// sortDocs orders documents newest first (by the creation annotation, a
// hint), then by digest, so that choices between re-runs are stable.
func sortDocs(ds []*Document) {
	sort.SliceStable(ds, func(i, j int) bool {
		ci, cj := ds[i].Referrer.Annotations[AnnotationCreated], ds[j].Referrer.Annotations[AnnotationCreated]
		if ci != cj {
			return ci > cj
		}
		return ds[i].Referrer.Digest < ds[j].Referrer.Digest
	})
}
