package verify

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/referee-dev/referee/attest"
)

// StagedArtifact is one artifact an inspection is given: its path as the
// link of Step records it, with the hashes recorded there.
type StagedArtifact struct {
	Path string
	Step string
	Hash attest.HashObj
}

// staged is what the inspections of one choice of links see: every
// product those links record (the image excepted), by path, with the step
// whose link records it; the available ones are those whose bytes
// Options.Artifacts has.
type staged struct {
	recorded  map[string]StagedArtifact
	available map[string]attest.HashObj
	// why says, for a recorded artifact that is not available, why.
	why map[string]error
	fp  string
}

// list returns the available artifacts sorted by path.
func (s *staged) list() []StagedArtifact {
	out := make([]StagedArtifact, 0, len(s.available))
	for _, p := range sortedKeys(s.available) {
		out = append(out, s.recorded[p])
	}
	return out
}

// stage collects the products that the links of layout's steps record
// and finds which of them are available. A path recorded by two steps
// with different hashes is the later step's (in the layout's order, the
// order of the supply chain): an older version is never staged under the
// same name.
func stage(ctx context.Context, layout *attest.Layout, links map[string]*attest.Link, cache *artifactCache) *staged {
	s := &staged{recorded: map[string]StagedArtifact{}, available: map[string]attest.HashObj{}, why: map[string]error{}}
	for _, st := range layout.Steps {
		l := links[st.Name]
		if l == nil {
			continue
		}
		for p, h := range l.Products {
			if p == attest.ImageArtifact {
				continue // the image manifest, not a file
			}
			s.recorded[p] = StagedArtifact{Path: p, Step: st.Name, Hash: h}
		}
	}
	paths := sortedKeys(s.recorded)
	errs := make([]error, len(paths))
	var g errgroup.Group
	g.SetLimit(fetchWorkers)
	for i, p := range paths {
		hx := s.recorded[p].Hash["sha256"]
		if !attest.IsSHA256Hex(hx) {
			errs[i] = errors.New("its link records no sha256")
			continue
		}
		g.Go(func() error {
			errs[i] = cache.available(ctx, p, hx)
			return nil
		})
	}
	_ = g.Wait()
	for i, p := range paths {
		if errs[i] != nil {
			s.why[p] = errs[i]
			continue
		}
		s.available[p] = s.recorded[p].Hash
	}
	// What is recorded, not only what is available, tells two sets
	// apart: a failure names the step that records a missing artifact.
	recorded := map[string]attest.HashObj{}
	for p, a := range s.recorded {
		recorded[p+"\x00"+a.Step] = a.Hash
	}
	s.fp = artifactFingerprint(&attest.Link{Materials: s.available, Products: recorded})
	return s
}

// missingReason says why path cannot be given to inspection name: it is
// no artifact a verified link records, or it is recorded but its bytes
// are not available.
func (s *staged) missingReason(path, image string) string {
	a, ok := s.recorded[path]
	if !ok {
		return fmt.Sprintf("%q is not an artifact a verified link records", path)
	}
	hint := ""
	if image != "" {
		hint = fmt.Sprintf(" (attach it: referee attach IMAGE %s)", path)
	}
	return fmt.Sprintf("%q is recorded by step %q but not available: %v%s", path, a.Step, s.why[path], hint)
}
