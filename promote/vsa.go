package promote

import (
	"errors"
	"fmt"
	"strings"
	"time"

	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/referee-dev/referee/attest"
)

// PredicateTypeVSA is the SLSA Verification Summary Attestation predicate
// type. See https://slsa.dev/spec/v1.0/verification_summary.
const PredicateTypeVSA = "https://slsa.dev/verification_summary/v1"

// VerifierID names referee as the verifier in the summaries it signs.
const VerifierID = "https://github.com/referee-dev/referee"

// Summary is what a VSA says, in the terms referee checks.
type Summary struct {
	// Image is the subject digest ("sha256:<hex>").
	Image string
	// ResourceURI is where the image was verified.
	ResourceURI string
	// Layout is the sha256 of the signed payload of the layout the
	// verification used (the same whatever envelope carried it), and
	// LayoutURI where it came from.
	Layout, LayoutURI string
	// Result is PASSED or FAILED.
	Result string
	// Levels are the verified levels.
	Levels []string
	// Time is when the verification happened.
	Time time.Time
	// Verifier is the verifier's id.
	Verifier string
	// Inputs are the attestations (layout and links) the verification used,
	// by digest.
	Inputs []string
}

// Statement returns the in-toto Statement v1 of a VSA for s, built with
// the in-toto attestation Go types, as JSON (the DSSE payload).
// https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
func (s Summary) Statement() ([]byte, error) {
	alg, hex, ok := strings.Cut(s.Image, ":")
	if !ok {
		return nil, fmt.Errorf("image digest %q has no algorithm", s.Image)
	}
	pred := &vsa.VerificationSummary{
		Verifier:           &vsa.VerificationSummary_Verifier{Id: s.Verifier},
		TimeVerified:       timestamppb.New(s.Time.UTC().Truncate(time.Second)),
		ResourceUri:        s.ResourceURI,
		Policy:             &vsa.VerificationSummary_Policy{Uri: s.LayoutURI, Digest: digestMap(s.Layout)},
		VerificationResult: s.Result,
		VerifiedLevels:     s.Levels,
		SlsaVersion:        "1.0",
	}
	for _, in := range s.Inputs {
		pred.InputAttestations = append(pred.InputAttestations, &vsa.VerificationSummary_InputAttestation{Uri: in, Digest: digestMap(in)})
	}
	pj, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(pj, st); err != nil {
		return nil, err
	}
	statement := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: s.ResourceURI, Digest: map[string]string{alg: hex}}},
		PredicateType: PredicateTypeVSA,
		Predicate:     st,
	}
	if err := statement.Validate(); err != nil {
		return nil, err
	}
	return protojson.Marshal(statement)
}

// vsaSchema is the schema of a SLSA VSA v1 predicate, for attest.CheckJSON.
// See https://slsa.dev/spec/v1.0/verification_summary.
func vsaSchema() *attest.Schema {
	descriptor := attest.ResourceDescriptorSchema()
	anyValue := &attest.Schema{}
	return &attest.Schema{Protobuf: true, Fields: map[string]*attest.Schema{
		"verifier": {Protobuf: true, Fields: map[string]*attest.Schema{
			"id":      anyValue,
			"version": {Map: anyValue},
		}},
		"timeVerified":       anyValue,
		"resourceUri":        anyValue,
		"policy":             descriptor,
		"inputAttestations":  {Elem: descriptor},
		"verificationResult": anyValue,
		"verifiedLevels":     anyValue,
		"dependencyLevels":   {Map: anyValue},
		"slsaVersion":        anyValue,
	}}
}

func digestMap(d string) map[string]string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return nil
	}
	return map[string]string{alg: hex}
}

// ParseSummary reads a VSA Statement (a DSSE payload) and returns what it
// says about the subject digest image ("sha256:<hex>"). It refuses a
// statement of another type, another predicate type, or one whose subjects
// do not include image. The payload must pass attest.CheckJSON with the
// Statement's and the VSA's schema first (UTF-8, no repeated keys, no field
// that differs from a known one in case or is its protobuf name); unknown
// (extension) fields are then ignored, as the attestation framework's
// parsing rules say
// (https://github.com/in-toto/attestation/blob/main/spec/v1/README.md#parsing-rules).
func ParseSummary(payload []byte, image string) (*Summary, error) {
	if err := attest.CheckJSON(payload, attest.StatementSchema(vsaSchema())); err != nil {
		return nil, fmt.Errorf("VSA statement: %w", err)
	}
	read := protojson.UnmarshalOptions{DiscardUnknown: true}
	var st intoto.Statement
	if err := read.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("VSA statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("VSA statement: %w", err)
	}
	if st.GetPredicateType() != PredicateTypeVSA {
		return nil, fmt.Errorf("predicate type %q is not a VSA", st.GetPredicateType())
	}
	alg, hex, _ := strings.Cut(image, ":")
	found := false
	for _, sub := range st.GetSubject() {
		if sub.GetDigest()[alg] == hex && hex != "" {
			found = true
		}
	}
	if !found {
		return nil, errors.New("the VSA is about another image")
	}
	pj, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, err
	}
	var pred vsa.VerificationSummary
	if err := read.Unmarshal(pj, &pred); err != nil {
		return nil, fmt.Errorf("VSA predicate: %w", err)
	}
	s := &Summary{
		Image:       image,
		ResourceURI: pred.GetResourceUri(),
		LayoutURI:   pred.GetPolicy().GetUri(),
		Result:      pred.GetVerificationResult(),
		Levels:      pred.GetVerifiedLevels(),
		Time:        pred.GetTimeVerified().AsTime(),
		Verifier:    pred.GetVerifier().GetId(),
	}
	for a, h := range pred.GetPolicy().GetDigest() {
		s.Layout = a + ":" + h
	}
	for _, in := range pred.GetInputAttestations() {
		for a, h := range in.GetDigest() {
			s.Inputs = append(s.Inputs, a+":"+h)
		}
	}
	return s, nil
}
