package verify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
)

// readAttestation returns the attestation Options.Attestations[i] as this
// verification reads it, once: every attestation check of the layout
// asks the same one.
func (x *inspections) readAttestation(i int) *attestationRead {
	if x.read == nil {
		x.read = map[int]*attestationRead{}
	}
	ra := x.read[i]
	if ra == nil {
		ra = newAttestationRead(x.o.Attestations[i])
		x.read[i] = ra
	}
	return ra
}

// attestationRead is one attestation, read step by step from the cheapest
// step up, each at most once, so that junk anyone who can push attaches
// costs a scan of its bytes and no more: the predicate type, read by a
// decoder that keeps nothing else; the signatures, verified only for one
// of the predicate type a check reads; the statement, parsed and
// validated (attest.ParseStatement) only when a key the check names
// signed it; the check's input, read only when the statement counts.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/README.md#parsing-rules
type attestationRead struct {
	ev Evidence
	// predicateType is the payload's, read by the scan; "" when the
	// payload is not a JSON object.
	predicateType string
	// verified is the outcome of each key's verification.
	verified map[*attest.Key]error
	parsed   bool
	st       *attest.Statement
	stErr    error
	input    *check.Input
	inErr    error
}

func newAttestationRead(ev Evidence) *attestationRead {
	ra := &attestationRead{ev: ev, verified: map[*attest.Key]error{}}
	if ev.Envelope == nil {
		return ra
	}
	var head struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(ev.Envelope.Payload, &head) == nil {
		ra.predicateType = head.PredicateType
	}
	return ra
}

// qualify says whether the attestation counts for q: false and "" when
// it is of another predicate type; false and why it does not count when
// it is of q's type but unsigned, signed by another key, not an in-toto
// Statement, or about another image.
func (ra *attestationRead) qualify(q AttestationQuery) (bool, string) {
	env := ra.ev.Envelope
	if env == nil || ra.predicateType != q.PredicateType {
		return false, ""
	}
	if env.Form != attest.FormDSSE || env.PayloadType != attest.PayloadType {
		return false, fmt.Sprintf("is not a DSSE envelope of payload type %s", attest.PayloadType)
	}
	if len(env.Signatures) == 0 {
		return false, "is not signed"
	}
	why := fmt.Sprintf("is not signed by key %s", short(q.SignedBy))
	signed := false
	for _, k := range q.Keys {
		err, done := ra.verified[k]
		if !done {
			err = env.VerifyKey(k)
			ra.verified[k] = err
		}
		signed = signed || err == nil
		if err != nil && namesKey(env, k) {
			// Only a signature that names the key can be said to be its,
			// and tampered with; one without a keyid (cosign's) that does
			// not verify is by another key.
			why = fmt.Sprintf("has a signature by key %s that does not verify over its content", short(q.SignedBy))
		}
	}
	if !signed {
		return false, why
	}
	st, err := ra.statement()
	if err != nil {
		return false, fmt.Sprintf("is not an in-toto Statement: %v", err)
	}
	if st.PredicateType != q.PredicateType {
		return false, "" // the scan and the parse disagree: the parse decides
	}
	if !st.NamesDigest(q.Image) {
		return false, fmt.Sprintf("is about another image (%s), not %s", subjects(st), q.Image)
	}
	return true, ""
}

// statement parses the payload with the attestation framework, once.
func (ra *attestationRead) statement() (*attest.Statement, error) {
	if !ra.parsed {
		ra.parsed = true
		ra.st, ra.stErr = attest.ParseStatement(ra.ev.Envelope.Payload)
	}
	return ra.st, ra.stErr
}

// eval evaluates prog over the predicate (input) and the whole statement
// (statement) of a statement that counts, read once for every check.
func (ra *attestationRead) eval(ctx context.Context, prog *check.Program) (check.Result, error) {
	if ra.input == nil && ra.inErr == nil {
		in, err := check.StatementInput(ra.ev.Source, ra.ev.Envelope.Payload)
		ra.input, ra.inErr = &in, err
	}
	if ra.inErr != nil {
		return check.Result{}, ra.inErr
	}
	return prog.Eval(ctx, *ra.input)
}
