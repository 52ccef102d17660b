// Package layoutref finds the layout that verification uses: a file, an
// OCI reference (a layout kept in a policy repository apart from the
// images), or, when none is given, the current layout among those attached
// to the image, accepting only layouts signed by the owner's keys.
package layoutref

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// Candidate is a signed layout and where it came from.
type Candidate struct {
	Source   string
	Envelope *attest.Envelope
}

// Rejected is a candidate layout that was not used, and why. When it was
// rejected for its signatures, Unverified says who claims to have signed it.
type Rejected struct {
	Source     string  `json:"source"`
	Reason     string  `json:"reason"`
	Unverified *Claims `json:"unverified,omitempty"`
}

// Selection is the layout chosen among several, and the ones passed over.
type Selection struct {
	Chosen   Candidate
	Version  int
	Rejected []Rejected
}

// ErrNoLayout is returned when no candidate layout is acceptable.
var ErrNoLayout = errors.New("no acceptable layout")

// Select picks the current layout among candidates (the layouts attached to
// an image): only those signed by every key count; of those, the highest
// version (attest.Layout.Version) wins, so an older layout attached beside
// the current one is never used (rollback). Two different layouts with the
// highest version make the choice ambiguous, which is refused. Layouts
// below minVersion are not used at all: whoever can delete referrers can
// delete the current layout, and a minimum (kept by the verifier) stops the
// older one from taking its place.
func Select(cands []Candidate, keys []*attest.Key, minVersion int) (*Selection, error) {
	sel := &Selection{}
	best := -1
	var tied []Candidate
	for _, c := range cands {
		if reason, verified := checkSigned(c.Envelope, keys); reason != "" {
			rej := Rejected{Source: c.Source, Reason: reason}
			if reason != notALayout {
				rej.Unverified = ReadClaims(c.Envelope, verified)
			}
			sel.Rejected = append(sel.Rejected, rej)
			continue
		}
		l, err := c.Envelope.ParsedLayout()
		if err != nil {
			sel.Rejected = append(sel.Rejected, Rejected{Source: c.Source, Reason: "invalid layout: " + err.Error()})
			continue
		}
		v, _ := l.Version() // ParseLayout validated it
		if v < minVersion {
			sel.Rejected = append(sel.Rejected, Rejected{Source: c.Source, Reason: fmt.Sprintf("version %d is below the minimum %d", v, minVersion)})
			continue
		}
		switch {
		case v > best:
			for _, t := range tied {
				sel.Rejected = append(sel.Rejected, Rejected{Source: t.Source, Reason: fmt.Sprintf("version %d is older than %d", best, v)})
			}
			best, tied = v, []Candidate{c}
		case v == best:
			tied = append(tied, c)
		default:
			sel.Rejected = append(sel.Rejected, Rejected{Source: c.Source, Reason: fmt.Sprintf("version %d is older than the current layout's", v)})
		}
	}
	switch {
	case len(tied) == 0:
		why := fmt.Sprintf("%s: none of the %d layouts found is signed by every layout key", ErrNoLayout, len(cands))
		if minVersion > 0 {
			why = fmt.Sprintf("%s: none of the %d layouts found is signed by every layout key with version %d or higher", ErrNoLayout, len(cands), minVersion)
		}
		if len(cands) == 0 {
			why = fmt.Sprintf("%s: no layout is attached to the image (give one with --layout)", ErrNoLayout)
		}
		return sel, errors.New(why)
	case len(tied) > 1 && !samePayload(tied):
		names := make([]string, len(tied))
		for i, t := range tied {
			names[i] = t.Source
		}
		return sel, fmt.Errorf("%w: %d different layouts signed by the layout keys have version %d (%s); give the version a new number or pin one with --layout", ErrNoLayout, len(tied), best, strings.Join(names, ", "))
	}
	sel.Chosen, sel.Version = tied[0], best
	return sel, nil
}

const notALayout = "not a layout"

// checkSigned says why env is not a layout signed by every key, and which
// keys did verify.
func checkSigned(env *attest.Envelope, keys []*attest.Key) (reason string, verified []string) {
	if kind, err := env.PayloadKind(); err != nil || kind != "layout" {
		return notALayout, nil
	}
	var problems []string
	for _, k := range keys {
		if err := env.VerifyKey(k); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		verified = append(verified, k.KeyID)
	}
	return strings.Join(problems, "; "), verified
}

func samePayload(cs []Candidate) bool {
	for _, c := range cs[1:] {
		if string(c.Envelope.Payload) != string(cs[0].Envelope.Payload) {
			return false
		}
	}
	return true
}

// Load reads the layout named by --layout: a file when a file of that name
// exists, otherwise an OCI reference (HOST/REPO:TAG, HOST/REPO@DIGEST or
// oci-layout:PATH[:TAG|@DIGEST]) to a manifest one of whose layers holds the
// signed layout, such as one pushed to a policy repository with
// `oras push` or attached by referee. The reference is resolved once.
func Load(ctx context.Context, name string, o oci.Options) (Candidate, error) {
	if st, err := os.Stat(name); err == nil && !st.IsDir() {
		env, err := attest.ReadEnvelopeFile(name, attest.DefaultMaxFileSize)
		if err != nil {
			return Candidate{}, err
		}
		return Candidate{Source: name, Envelope: env}, nil
	}
	isPath := strings.HasPrefix(name, "/") || strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../")
	if !strings.HasPrefix(name, oci.LayoutPrefix) && (!strings.Contains(name, "/") || isPath) {
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
			return Candidate{}, fmt.Errorf("--layout %s: no such file", name)
		}
	}
	s, ref, desc, err := oci.OpenResolved(ctx, name, o)
	if err != nil {
		return Candidate{}, fmt.Errorf("--layout: %w", err)
	}
	m, err := oci.FetchManifest(ctx, s, desc, maxOr(o.MaxManifestBytes, oci.DefaultMaxManifestBytes))
	if err != nil {
		return Candidate{}, fmt.Errorf("--layout %s: %w", ref, err)
	}
	for _, l := range m.Layers {
		data, err := oci.FetchBlob(ctx, s, l, maxOr(o.MaxBlobBytes, oci.DefaultMaxBlobBytes))
		if err != nil {
			return Candidate{}, fmt.Errorf("--layout %s: %w", ref, err)
		}
		env, err := attest.ParseEnvelope(data)
		if err != nil {
			continue
		}
		if kind, err := env.PayloadKind(); err == nil && kind == "layout" {
			return Candidate{Source: ref.String(), Envelope: env}, nil
		}
	}
	return Candidate{}, fmt.Errorf("--layout %s: no layer holds a signed in-toto layout", ref)
}

func maxOr(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}
