package oci

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
)

// Forms of attestation FindAttestations reads (Attestation.Form).
const (
	// AttestationFormReferee is a referrer of type
	// ArtifactTypeStatementDSSE (referee attest, referee promote).
	AttestationFormReferee = "referee"
	// AttestationFormCosign is a layer of cosign's legacy
	// sha256-<hex>.att tag.
	AttestationFormCosign = "cosign"
	// AttestationFormCosignBundle is a Sigstore bundle referrer
	// (cosign attest --new-bundle-format).
	AttestationFormCosignBundle = "cosign-bundle"
	// AttestationFormBuildKit is a layer of a BuildKit attestation
	// manifest: an unsigned Statement.
	AttestationFormBuildKit = "buildkit"
)

// Attestation is one in-toto Statement found for an image. Nothing in it
// is verified: the signature (Envelope.VerifyKey with a layout key) and
// the subject (attest.Statement.NamesDigest with the image digest) are
// the reader's to check, and a Statement about another image is returned
// as the registry holds it.
type Attestation struct {
	// Source says where it was found, for reports: the referrer or tag
	// and the layer.
	Source string
	// Form is one of the AttestationForm constants.
	Form string
	// Envelope is the DSSE envelope whose payload is Statement; nil for
	// an unsigned Statement (BuildKit), which can never count as signed
	// by a key.
	Envelope *attest.Envelope
	// Statement is the Statement's JSON as it arrived (the DSSE payload),
	// read once by attest.ParseStatement.
	Statement []byte
	// Referrer is the manifest that holds it: the referrer, cosign's .att
	// manifest, or BuildKit's attestation manifest.
	Referrer ocispec.Descriptor
}

// AttestationOptions bounds FindAttestations; zero values are the
// defaults of the rest of the package.
type AttestationOptions struct {
	// PredicateType keeps only Statements of this predicate type; empty
	// keeps all.
	PredicateType string
	// MaxReferrers bounds the image's referrers listing (zero:
	// DefaultMaxReferrers), MaxListTime its duration (zero:
	// DefaultMaxListTime).
	MaxReferrers int
	MaxListTime  time.Duration
	// MaxManifestBytes and MaxBlobBytes refuse larger manifests and
	// attestation blobs (zero: DefaultMaxManifestBytes,
	// DefaultMaxBlobBytes). All the blobs read for one image together are
	// bounded by DefaultMaxTotalBytes.
	MaxManifestBytes, MaxBlobBytes int64
	// Parallel bounds concurrent requests (zero: DefaultParallel).
	Parallel int
	// Keys, when set, screen the candidates: one whose envelope has no
	// signature that verifies with one of Keys (Envelope.VerifyKey), or
	// that is unsigned (BuildKit), is Skipped ("not signed by key …")
	// before its Statement is read, and nothing of it is kept, so that
	// statements pushed by anyone cost no more than their fetch and
	// signature check. Without Keys every Statement found is returned.
	Keys []*attest.Key
}

// Attestations is what ReadAttestations found: the Statements, and the
// candidates that were not usable, with why.
type Attestations struct {
	Found   []Attestation
	Skipped []Skipped
}

// maxAttestationLayers bounds the layers read of one cosign .att manifest
// or BuildKit attestation manifest (cosign adds one per attestation).
const maxAttestationLayers = 64

// FindAttestations returns the in-toto Statements held for image, in
// every form referee reads (ReadAttestations), without those that could
// not be read.
func FindAttestations(ctx context.Context, s Store, image ocispec.Descriptor, o AttestationOptions) ([]Attestation, error) {
	a, err := ReadAttestations(ctx, s, image, o)
	if err != nil {
		return nil, err
	}
	return a.Found, nil
}

// ReadAttestations finds the in-toto Statements held for image, in one
// round of listing, all forms at once:
//   - referrers of type ArtifactTypeStatementDSSE (referee's: one DSSE
//     layer);
//   - Sigstore bundle referrers (cosign attest --new-bundle-format: one
//     bundle layer, whose dsseEnvelope is taken and whose
//     verificationMaterial is ignored: the key comes from the layout);
//   - cosign's legacy tag sha256-<hex>.att in the image's repository (an
//     image manifest whose DSSE layers are attestations, no subject);
//   - when image is an index, BuildKit's attestation manifests in it
//     (unsigned Statements: Envelope nil).
//
// A referrer's own manifest decides what it is (registries without the
// referrers API list cosign's bundles as application/vnd.oci.empty.v1+json)
// and must name image as its subject. Manifests and blobs are checked
// against their descriptors and bounded (AttestationOptions); a candidate
// that is too large, gone, or not a Statement in the form it claims is
// Skipped; a store that fails or sends other bytes than its descriptor
// says is an error, as in Gather. Subjects are not checked, nor are
// signatures unless AttestationOptions.Keys screens them. Blobs are read
// a few at a time (at most 32 MiB of them held at once).
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/ATTESTATION_SPEC.md
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/BUNDLE_SPEC.md
func ReadAttestations(ctx context.Context, s Store, image ocispec.Descriptor, o AttestationOptions) (*Attestations, error) {
	r := newAttReader(s, o)
	var (
		listed    []ocispec.Descriptor
		legacy    []attFound
		buildkit  []attFound
		g, gctx   = errgroup.WithContext(ctx)
		listLimit = ListLimits{Max: o.MaxReferrers, Time: o.MaxListTime}
	)
	g.Go(func() error {
		var err error
		listed, err = ListReferrersWithin(gctx, s, image, "", listLimit)
		return err
	})
	g.Go(func() error {
		var err error
		legacy, err = r.cosignTag(gctx, image)
		return err
	})
	g.Go(func() error {
		var err error
		buildkit, err = r.buildKit(gctx, image)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.SliceStable(listed, func(i, j int) bool { return listed[i].Digest < listed[j].Digest })
	referrers := make([][]attFound, len(listed))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(r.parallel)
	for i, d := range listed {
		if !mayBeAttestation(d.ArtifactType) {
			continue
		}
		g.Go(func() error {
			var err error
			referrers[i], err = r.referrer(gctx, image, d)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return collect(append(append(referrers, legacy), buildkit), o.PredicateType), nil
}

// CosignLegacyAttestations is ReadAttestations for cosign's legacy form
// alone: the layers of the image's sha256-<hex>.att tag, with no listing
// of referrers (discover shows the referrers already).
func CosignLegacyAttestations(ctx context.Context, s Store, image ocispec.Descriptor, o AttestationOptions) (*Attestations, error) {
	legacy, err := newAttReader(s, o).cosignTag(ctx, image)
	if err != nil {
		return nil, err
	}
	return collect([][]attFound{legacy}, o.PredicateType), nil
}

// collect sorts candidates into what was found (of predicateType, when
// given) and what was skipped.
func collect(groups [][]attFound, predicateType string) *Attestations {
	out := &Attestations{}
	for _, group := range groups {
		for _, f := range group {
			switch {
			case f.skip != "":
				out.Skipped = append(out.Skipped, Skipped{Digest: f.att.Referrer.Digest.String(), Reason: f.att.Source + ": " + f.skip})
			case predicateType == "" || f.predicateType == predicateType:
				out.Found = append(out.Found, f.att)
			}
		}
	}
	return out
}

// attFound is one candidate: an attestation, or why it was skipped.
type attFound struct {
	att           Attestation
	predicateType string
	skip          string
	ignore        bool // not an attestation after all (a signature bundle)
}

// mayBeAttestation reports whether a referrer listed with artifactType is
// worth fetching: referee's statements, Sigstore bundles, and what a
// registry without the referrers API lists for them (the empty config's
// type, or none).
func mayBeAttestation(artifactType string) bool {
	switch artifactType {
	case ArtifactTypeStatementDSSE, mediaTypeEmptyJSON, "", MediaTypeInTotoStatement, MediaTypeDSSE:
		return true
	}
	return isSigstoreBundle(artifactType)
}

// attReader reads attestation manifests and blobs within the bounds.
type attReader struct {
	s                    Store
	maxManifest, maxBlob int64
	parallel             int
	bud                  *budget
	screen               *attScreen          // nil: no Keys
	inFlight             *semaphore.Weighted // blob bytes held at once
}

func newAttReader(s Store, o AttestationOptions) *attReader {
	r := &attReader{s: s, maxManifest: o.MaxManifestBytes, maxBlob: o.MaxBlobBytes, parallel: o.Parallel, bud: newBudget(),
		screen: newAttScreen(o.Keys), inFlight: semaphore.NewWeighted(maxAttInFlight)}
	if r.maxManifest <= 0 {
		r.maxManifest = DefaultMaxManifestBytes
	}
	if r.maxBlob <= 0 {
		r.maxBlob = DefaultMaxBlobBytes
	}
	if r.parallel <= 0 {
		r.parallel = DefaultParallel
	}
	return r
}

// fetch reads one blob or manifest within limit and the budget. Content
// that is too large or gone is a problem (returned as skip); any other
// failure is an error.
func (r *attReader) fetch(ctx context.Context, desc ocispec.Descriptor, limit int64) (data []byte, skip string, err error) {
	data, err = fetchAll(ctx, r.s, desc, limit)
	var tooLarge *tooLargeError
	switch {
	case err == nil:
		if err := r.bud.spend(len(data)); err != nil {
			return nil, "", err
		}
		return data, "", nil
	case errors.As(err, &tooLarge):
		return nil, err.Error(), nil
	case errors.Is(err, errdef.ErrNotFound):
		return nil, fmt.Sprintf("%s is gone from the store", desc.Digest), nil
	}
	return nil, "", err
}

// referrer reads one listed referrer of image: its manifest decides
// whether it is referee's statement or a Sigstore bundle.
func (r *attReader) referrer(ctx context.Context, image, listed ocispec.Descriptor) ([]attFound, error) {
	desc := ocispec.Descriptor{MediaType: listed.MediaType, Digest: listed.Digest, Size: listed.Size}
	if desc.MediaType == "" {
		desc.MediaType = ocispec.MediaTypeImageManifest
	}
	skipped := func(source, why string) []attFound {
		return []attFound{{att: Attestation{Source: source, Referrer: desc}, skip: why}}
	}
	source := "referrer " + desc.Digest.String()
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, nil // an index or another kind of manifest: not an attestation
	}
	data, skip, err := r.fetch(ctx, desc, r.maxManifest)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", desc.Digest, err)
	}
	if skip != "" {
		return skipped(source, skip), nil
	}
	var m manifestHead
	if err := unmarshalStrict(data, &m); err != nil {
		return skipped(source, fmt.Sprintf("manifest is not JSON: %v", err)), nil
	}
	artifactType := m.ArtifactType
	if artifactType == "" && m.Config != nil {
		artifactType = m.Config.MediaType
	}
	var form string
	switch {
	case artifactType == ArtifactTypeStatementDSSE:
		form, source = AttestationFormReferee, source+" (referee statement)"
	case isSigstoreBundle(artifactType) && m.Annotations[annotationBundleContent] == "message-signature":
		return nil, nil // cosign sign's signature, not an attestation
	case isSigstoreBundle(artifactType):
		form, source = AttestationFormCosignBundle, source+" (Sigstore bundle)"
	default:
		return nil, nil
	}
	desc.ArtifactType, desc.Annotations = artifactType, m.Annotations
	switch {
	case m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest:
		return skipped(source, fmt.Sprintf("manifest says it is a %q, not an image manifest", m.MediaType)), nil
	case m.Subject == nil:
		return skipped(source, "manifest names no subject"), nil
	case m.Subject.Digest != image.Digest:
		return skipped(source, fmt.Sprintf("manifest names subject %s, not the image %s", m.Subject.Digest, image.Digest)), nil
	case len(m.Layers) == 0:
		return skipped(source, "manifest has no layers"), nil
	case len(m.Layers) > maxLayersPerReferrer:
		return skipped(source, fmt.Sprintf("has %d layers; referee reads referrers of at most %d", len(m.Layers), maxLayersPerReferrer)), nil
	}
	layerType := MediaTypeDSSE
	if form == AttestationFormCosignBundle {
		layerType = MediaTypeSigstoreBundle
	}
	if !slices.ContainsFunc(m.Layers, func(l ocispec.Descriptor) bool { return layerOf(l, layerType) }) {
		return skipped(source, fmt.Sprintf("no %s layer", layerType)), nil
	}
	return r.layers(ctx, desc, m.Layers, layerType, form, source)
}

// layerOf reports whether layer l is of mediaType (a Sigstore bundle of
// any version for MediaTypeSigstoreBundle).
func layerOf(l ocispec.Descriptor, mediaType string) bool {
	return l.MediaType == mediaType || mediaType == MediaTypeSigstoreBundle && isSigstoreBundle(l.MediaType)
}

// layers reads the layers of manifest desc of mediaType in form, in
// parallel; each is named by its index among all of layers.
func (r *attReader) layers(ctx context.Context, desc ocispec.Descriptor, layers []ocispec.Descriptor, mediaType, form, source string) ([]attFound, error) {
	found := make([]*attFound, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.parallel)
	for i, l := range layers {
		if !layerOf(l, mediaType) {
			continue
		}
		g.Go(func() error {
			f, err := r.layer(gctx, desc, l, form, fmt.Sprintf("%s layer %d", source, i))
			found[i] = &f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []attFound
	for _, f := range found {
		if f != nil && !f.ignore {
			out = append(out, *f)
		}
	}
	return out, nil
}

// layer reads one attestation layer of manifest desc in form.
func (r *attReader) layer(ctx context.Context, desc, l ocispec.Descriptor, form, source string) (attFound, error) {
	f := attFound{att: Attestation{Source: source, Form: form, Referrer: desc}}
	if l.Size > r.maxBlob {
		f.skip = (&tooLargeError{l, r.maxBlob}).Error()
		return f, nil
	}
	release, err := acquireInFlight(ctx, r.inFlight, l)
	if err != nil {
		return f, fmt.Errorf("%s: %w", source, err)
	}
	defer release()
	data, skip, err := r.fetch(ctx, l, r.maxBlob)
	if err != nil {
		return f, fmt.Errorf("%s: %w", source, err)
	}
	if skip != "" {
		f.skip = skip
		return f, nil
	}
	var env *attest.Envelope
	payload := data
	switch form {
	case AttestationFormCosignBundle:
		env, err = ParseSigstoreBundle(data)
	case AttestationFormReferee, AttestationFormCosign:
		env, err = parseDSSE(data)
	}
	if errors.Is(err, ErrSignatureBundle) {
		f.ignore = true // a signature, not an attestation
		return f, nil
	}
	if err != nil {
		f.skip = err.Error()
		return f, nil
	}
	if r.screen != nil && (env == nil || !r.screen.signed(env)) {
		f.skip = r.screen.why(env == nil)
		return f, nil
	}
	if env != nil {
		payload = env.Payload
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		f.skip = "not an in-toto Statement: " + strings.TrimPrefix(err.Error(), "statement: ")
		return f, nil
	}
	f.att.Envelope, f.att.Statement, f.predicateType = env, payload, st.PredicateType
	return f, nil
}

// parseDSSE reads a DSSE envelope of an in-toto payload.
func parseDSSE(data []byte) (*attest.Envelope, error) {
	env, err := attest.ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if env.Form != attest.FormDSSE {
		return nil, fmt.Errorf("a %s envelope, not DSSE", env.Form)
	}
	return env, nil
}
