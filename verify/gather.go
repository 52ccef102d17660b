package verify

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/workers"
)

// candidate is one piece of evidence offered for a step, with the distinct
// authorised keys whose signatures on it verify.
type candidate struct {
	ev     Evidence
	link   *attest.CompactLink
	keyIDs []string
	// keyFPs identify the signers by key material, so one key listed
	// under two keyids still counts once.
	keyFPs []string
	reject string
	sub    *Report
}

// gatherCandidates sorts the evidence by step, checks signatures, verifies
// sublayouts, and records why evidence cannot count. Evidence for a step
// the layout does not name is not used and does not fail verification, as
// in both reference implementations (which never read it): a link or
// sublayout can only count toward a step of the layout, and anyone who can
// attach a referrer could otherwise make every image fail with a
// self-signed link of a made-up step. It is listed in r.Warnings as not
// used, with why (see ignoredWarnings).
func gatherCandidates(ctx context.Context, layout *attest.Layout, links []Evidence, o Options, depth int, r *Report) map[string][]*candidate {
	// Parsing and signature checks are independent per link: spread them
	// over the cores, then assemble in input order. A worker per core (two
	// on one, so that a link is read while another is checked) takes the
	// links in turn: a registry's hundreds of small links cost no
	// goroutine (and no stack to grow) each, nor a hand-off from a loop
	// that starts them.
	results := make([]examined, len(links))
	procs := runtime.GOMAXPROCS(0)
	reading, checking := semaphore.NewWeighted(maxExamineBytes), semaphore.NewWeighted(maxExamineBytes)
	var paths pathTables
	// The largest first: the last link's signature check runs on one
	// core while nothing else is left, so it should be a small one's
	// (W1's links of 24 MB, 24, 24, 24 and 12 took 35 ms at the end
	// rather than 17).
	order := make([]int, len(links))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(links[b].size(), links[a].size()) })
	workers.Each(max(procs, 2), len(links), func(k int) {
		i := order[k]
		results[i] = examineWithin(ctx, layout, links[i], reading, checking, int64(procs), &paths)
	})
	out := map[string][]*candidate{}
	var ignored []examined
	for _, e := range results {
		switch {
		case e.err != nil:
			if r.loadErr == nil {
				r.loadErr = e.err
			}
			continue
		case e.failure != nil:
			r.Failures = append(r.Failures, *e.failure)
			continue
		case e.ignored != "":
			ignored = append(ignored, e)
			continue
		}
		if e.c.reject == "" && e.isSub {
			e.c.verifySublayout(ctx, layout, layout.Step(e.name), o, depth)
			if e.c.sub != nil && e.c.sub.loadErr != nil && r.loadErr == nil {
				r.loadErr = e.c.sub.loadErr
			}
		}
		out[e.name] = append(out[e.name], e.c)
	}
	r.Warnings = append(r.Warnings, ignoredWarnings(ignored)...)
	return out
}

// examineWithin is examine of ev within the bounds of gatherCandidates:
// one link per core (procs workers, each with a place of at least
// maxExamineBytes/procs), and links of more than maxExamineBytes
// together one after another.
func examineWithin(ctx context.Context, layout *attest.Layout, ev Evidence, reading, checking *semaphore.Weighted, procs int64, paths *pathTables) examined {
	w := min(max(ev.size(), maxExamineBytes/procs), maxExamineBytes)
	if err := reading.Acquire(ctx, w); err != nil {
		return examined{err: err}
	}
	p := &place{ctx: ctx, reading: reading, checking: checking, held: reading, w: w, size: ev.size()}
	defer p.release()
	e := examine(layout, ev, p)
	if c := e.c; c != nil && c.link != nil {
		paths.share(c.link.Materials, c.link.Products)
	}
	return e
}

// place is a link's place within the bounds of gatherCandidates: among
// the links being read (its weight w), then among those being checked.
type place struct {
	ctx               context.Context
	reading, checking *semaphore.Weighted
	held              *semaphore.Weighted // nil: nothing held
	w                 int64
	size              int64 // the link's (Evidence.size)
}

// read is called once the link is read (attest.ScanLink): what it holds
// now is its signed bytes. It takes a place among the links being checked
// before it gives up its place among those being read, to the next.
func (p *place) read() {
	if p.held == p.reading && p.checking.Acquire(p.ctx, p.w) == nil {
		p.reading.Release(p.w)
		p.held = p.checking
	}
}

// alone is called before a link is read the long way (the library's
// decoding, where the one-pass reader declined): one that costs more than
// its place (libraryCost times its size) waits until it is the only link
// being read.
func (p *place) alone() {
	if p.held != p.reading || p.w == maxExamineBytes || libraryCost*p.size <= p.w {
		return
	}
	p.reading.Release(p.w)
	p.held, p.w = nil, maxExamineBytes
	if p.reading.Acquire(p.ctx, p.w) == nil {
		p.held = p.reading
	}
}

// libraryCost is about what reading a link with encoding/json costs, in
// multiples of its size: a 10 MB link whose keys are not sorted (which the
// one-pass reader declines) keeps 46 MB live while it is decoded.
const libraryCost = 5

func (p *place) release() {
	if p.held != nil {
		p.held.Release(p.w)
	}
}

// maxExamineBytes bounds the size of the evidence read at once: a link
// costs about twice its size while it is read (its bytes and their
// canonical form), more than the artifact table it leaves, so a
// monorepo's links of 20 MB each are read one after another rather than
// raise the peak memory by half. A link read (attest.ScanLink) holds only
// its signed bytes while its signatures are checked, at most its size; it
// then leaves its place to the next link, and takes one among the links
// being checked, bounded the same way. So one large link is checked while
// the next is read: at most 2 x maxExamineBytes of links being read and
// maxExamineBytes of signed bytes being checked.
const maxExamineBytes = 32 << 20

// size is how many bytes examining ev reads: its payload, or its file.
func (ev Evidence) size() int64 {
	if ev.Envelope != nil {
		return int64(len(ev.Envelope.Payload))
	}
	return ev.fileSize
}

// pathTables keeps one copy of each list of paths the links record: a
// step's materials are usually the products of the step before, and the
// paths of a monorepo's links are most of their tables.
type pathTables struct {
	mu   sync.Mutex
	seed maphash.Seed
	seen map[pathsKey][]*attest.Artifacts
}

// pathsKey identifies a list of paths by its length and a hash of the
// paths, so that each table is compared in full only with those that
// likely list the same paths: keyed by less, links that each differ in
// one path from all others (as many as a registry lists) were each
// compared with every other.
type pathsKey struct {
	n   int
	sum uint64
}

// share makes each of tables use the paths of an earlier table that
// lists the same, or keeps it for later ones; it returns how many shared.
func (p *pathTables) share(tables ...*attest.Artifacts) (shared int) {
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[pathsKey][]*attest.Artifacts{}
		p.seed = maphash.MakeSeed()
	}
	seed := p.seed
	p.mu.Unlock()
	// The paths are hashed outside the lock, by the worker that examined
	// the link.
	keys := make([]pathsKey, len(tables))
	for k, a := range tables {
		var h maphash.Hash
		h.SetSeed(seed)
		for i := range a.Len() {
			path := a.Path(i)
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(path)))
			h.Write(n[:])
			h.WriteString(path)
		}
		keys[k] = pathsKey{a.Len(), h.Sum64()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, a := range tables {
		if a.Len() == 0 {
			continue
		}
		key := keys[k]
		found := false
		for _, b := range p.seen[key] {
			if a.SharePaths(b) {
				found = true
				shared++
				break
			}
		}
		if !found {
			p.seen[key] = append(p.seen[key], a)
		}
	}
	return shared
}

// examined is what examine found about one piece of evidence: the step it
// is a candidate for, or the failure that makes it unusable, or why it is
// for no step of the layout and so not used (ignored).
type examined struct {
	c       *candidate
	name    string
	isSub   bool
	failure *Failure
	ignored string
	// err is a file of OpenLinkDir that could not be read.
	err error
}

// maxIgnoredListed bounds how many pieces of evidence for steps the layout
// does not name are listed one by one; the rest are counted on one line,
// so that junk attached by anyone cannot bury the report.
const maxIgnoredListed = 20

// ignoredWarnings lists evidence for no step of the layout, as not used.
func ignoredWarnings(ignored []examined) []string {
	var out []string
	for i, e := range ignored {
		if i == maxIgnoredListed {
			out = append(out, fmt.Sprintf("and %d more links or sublayouts for steps the layout does not name, not used", len(ignored)-i))
			break
		}
		what := "link"
		if e.isSub {
			what = "sublayout"
		}
		if e.name == "" {
			out = append(out, fmt.Sprintf("%s %s not used: %s", what, e.c.ev.Source, e.ignored))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s of step %q not used: %s", what, e.c.ev.Source, e.name, e.ignored))
	}
	return out
}

// examine parses one piece of evidence, finds its step and checks its
// signatures. A failure means the evidence is unusable for any step;
// evidence for a step the layout does not name is ignored (its signatures
// are not even checked), unless its file name says a step of the layout:
// then it is a rejected candidate of that step, so that the report says,
// where the reader looks for it, why it did not count.
func examine(layout *attest.Layout, ev Evidence, p *place) examined {
	c := &candidate{ev: ev}
	env := ev.Envelope
	if env == nil && ev.open != nil {
		// OpenLinkDir's: read now, and for a link not kept beyond
		// this function (the candidate keeps its compact form).
		var err error
		if env, err = ev.open(); err != nil {
			return examined{err: err}
		}
	}
	if env == nil {
		return examined{failure: &Failure{Source: ev.Source, Reason: "no signed document"}}
	}
	var name string
	isSub := false
	// A plain link is read in one pass (attest.ScanLink), its signatures
	// checked over the bytes that pass wrote; anything else the long way,
	// which also says what is wrong.
	sigs := env.Signatures
	var verifier keyVerifier = env
	l, signed, ok := ev.link, ev.signed, ev.link != nil
	if !ok {
		l, signed, ok = attest.ScanLink(env)
	}
	if ok {
		c.link, name, verifier = l, l.Name, signed
		// What is left to check needs only the signatures (sigs) and
		// the signed bytes: on this path env is not used again, so a
		// file read here (OpenLinkDir) may go; evidence given in memory
		// stays its caller's.
		p.read()
	} else {
		p.alone()
		kind, err := env.PayloadKind()
		if err != nil {
			return examined{failure: &Failure{Source: ev.Source, Reason: err.Error()}}
		}
		switch kind {
		case "link":
			full, err := attest.ParseLink(env.Payload)
			if err != nil {
				return examined{failure: &Failure{Source: ev.Source, Reason: "invalid link: " + err.Error()}}
			}
			c.link, name = full.Compact(), full.Name
		case "layout":
			name, isSub = ev.StepHint, true
			c.ev.Envelope = env // verifySublayout reads it
		default:
			return examined{failure: &Failure{Source: ev.Source, Reason: fmt.Sprintf("is a %q document, neither a link nor a sublayout", kind)}}
		}
	}
	step := layout.Step(name)
	if step == nil {
		if !isSub && ev.StepHint != name && layout.Step(ev.StepHint) != nil {
			// The file name is unsigned: the signed name decides, and a
			// link of one step never counts for another.
			c.reject = fmt.Sprintf("signed as a link of step %q, which the layout does not have, not of %q (a link counts only for the step its signed content names, whatever its file name says)", name, ev.StepHint)
			return examined{c: c, name: ev.StepHint}
		}
		return examined{c: c, name: name, isSub: isSub, ignored: noStep(layout, name)}
	}
	c.keyIDs, c.keyFPs, c.reject = signers(sigs, verifier, layout, step)
	return examined{c: c, name: name, isSub: isSub}
}

// noStep says why evidence of step name is for no step of layout.
func noStep(layout *attest.Layout, name string) string {
	if name == "" {
		return "it names no step (in-toto takes a sublayout's step from its file name, STEP.KEYID8.link)"
	}
	for _, in := range layout.Inspect {
		if in.Name == name {
			return fmt.Sprintf("no step of this name in the layout (%q is an inspection, whose link the verifier makes by running it)", name)
		}
	}
	return "no step of this name in the layout"
}

// verifySublayout verifies a sublayout with the functionary's key as its
// layout key, and stands in for it the summary link in-toto defines: the
// first step's materials and the last step's products, byproducts and
// command.
func (c *candidate) verifySublayout(ctx context.Context, layout *attest.Layout, step *attest.Step, o Options, depth int) {
	if depth+1 > o.MaxSublayoutDepth {
		c.reject = fmt.Sprintf("sublayouts nested deeper than %d", o.MaxSublayoutDepth)
		return
	}
	so := o
	so.LayoutKeys = []*attest.Key{layout.Keys[c.keyIDs[0]]}
	so.Inspector, so.sublayoutSigner = nil, c.keyIDs[0]
	so.Artifacts, so.Attestations = nil, nil
	sub, chosen := verifyLayout(ctx, c.ev, c.ev.Sub, so, depth+1)
	c.sub = sub
	if !sub.Verified {
		c.reject = fmt.Sprintf("sublayout does not verify: %s", sub.Failures[0].Error())
		return
	}
	subLayout, _ := c.ev.Envelope.ParsedLayout()
	c.link = &attest.CompactLink{Name: step.Name, Materials: attest.NewArtifacts(nil), Products: attest.NewArtifacts(nil)}
	if n := len(subLayout.Steps); n > 0 {
		first, last := chosen[subLayout.Steps[0].Name], chosen[subLayout.Steps[n-1].Name]
		c.link.Materials, c.link.Products, c.link.Command = first.Materials, last.Products, last.Command
	}
}
