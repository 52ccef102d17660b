package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/referee-dev/referee/internal/lazyre"
)

// IsSHA256Digest reports whether s is a SHA-256 digest as OCI writes it:
// "sha256:" and 64 lowercase hex digits (IsSHA256Hex).
func IsSHA256Digest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	return ok && IsSHA256Hex(hex)
}

// IsSHA256Hex reports whether s is a SHA-256 digest as links record it:
// 64 lowercase hex digits. Artifacts are looked up by it, so a digest
// spelt otherwise never names one.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// HashObj maps hash algorithm names to hex digests, as in a link's
// materials and products.
type HashObj map[string]string

// Link is an in-toto v1.0 link: the evidence of one step. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#44-file-formats-namekeyid-prefixlink.
type Link struct {
	Type        string             `json:"_type"`
	Name        string             `json:"name"`
	Command     []string           `json:"command"`
	Materials   map[string]HashObj `json:"materials"`
	Products    map[string]HashObj `json:"products"`
	Byproducts  map[string]any     `json:"byproducts"`
	Environment map[string]any     `json:"environment"`
}

// LinkFileName is the name in-toto gives a link file: STEP.KEYID8.link.
func LinkFileName(step, keyID string) string {
	if len(keyID) > 8 {
		keyID = keyID[:8]
	}
	return step + "." + keyID + ".link"
}

// maxStepName bounds a step name so that every file named after it fits
// in the 255 bytes a file name may have: the longest is record's
// ".STEP.KEYID8.link-unfinished" while WriteFileAtomic writes it through
// "..STEP.KEYID8.link-unfinished.tmp-NNNNNNNNNN" (42 bytes beside the name).
const maxStepName = 200

// ValidateStepName checks that name can name a step's link file
// (LinkFileName): not empty, not "." or "..", no slash, backslash or
// control character, valid UTF-8, and at most 200 bytes. Check it before a
// step's command runs: a link that cannot be written is a step to run again.
func ValidateStepName(name string) error {
	switch {
	case name == "":
		return errors.New("a step needs a name")
	case name == "." || name == "..":
		return fmt.Errorf("step name %q cannot name a link file", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("step name %q is not valid UTF-8", name)
	case len(name) > maxStepName:
		return fmt.Errorf("step name %.20q… is %d bytes, more than the %d a link file name allows", name, len(name), maxStepName)
	}
	for _, r := range name {
		if r == '/' || r == '\\' {
			return fmt.Errorf("step name %q has a %q: it becomes a link file name (STEP.KEYID8.link)", name, r)
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("step name %q has a control character", name)
		}
	}
	return nil
}

// ParseLink decodes and validates a link payload, after CheckJSON with the
// link's fixed fields (unknown fields and case variants refused, hash
// algorithms unique regardless of case). Artifact paths are checked
// to be clean relative paths, so that rules cannot be evaded by spelling one
// file two ways (dir/../foo, ./foo): in-toto-golang's GHSA-vrxp-mg9f-hwf3.
//
// A payload that is an in-toto Statement with the link predicate
// (PredicateTypeLink) is read as the link it stands for: see
// parseLinkStatement.
func ParseLink(payload []byte) (*Link, error) {
	if isStatementPayload(payload) {
		return parseLinkStatement(payload)
	}
	if err := CheckJSON(payload, linkSchema); err != nil {
		return nil, err
	}
	var l Link
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, fmt.Errorf("link: %w", jsonError(err))
	}
	if l.Type != "link" {
		return nil, fmt.Errorf("_type is %q, not \"link\"", l.Type)
	}
	return checkLink(&l)
}

// checkLink checks what every link must hold, however it arrived: a name,
// and clean artifact paths with hex digests.
func checkLink(l *Link) (*Link, error) {
	if l.Name == "" {
		return nil, fmt.Errorf("link has no name")
	}
	for what, arts := range map[string]map[string]HashObj{"materials": l.Materials, "products": l.Products} {
		for p, h := range arts {
			if err := checkArtifactPath(p); err != nil {
				return nil, fmt.Errorf("link %q %s: %w", l.Name, what, err)
			}
			if len(h) == 0 {
				return nil, fmt.Errorf("link %q %s: %q has no hash", l.Name, what, p)
			}
			for alg, d := range h {
				if _, err := hex.DecodeString(d); err != nil || d == "" {
					return nil, fmt.Errorf("link %q %s: %q: %s digest is not hex", l.Name, what, p, alg)
				}
			}
		}
	}
	if l.Materials == nil {
		l.Materials = map[string]HashObj{}
	}
	if l.Products == nil {
		l.Products = map[string]HashObj{}
	}
	return l, nil
}

// uriArtifact matches artifact names that are URIs (scheme://…), which
// resolvers record as they are.
var uriArtifact = lazyre.New(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// checkArtifactPath refuses artifact paths that name a file in more than
// one way. in-toto records paths relative and normalised; URIs such as
// "git+https://…" recorded by resolvers pass as they are.
func checkArtifactPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty artifact path")
	}
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return fmt.Errorf("artifact path %q has a NUL or backslash", p)
	}
	if strings.Contains(p, "://") && uriArtifact().MatchString(p) {
		return nil
	}
	if path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("artifact path %q is not normalised (want %q)", p, path.Clean(p))
	}
	return nil
}

// Marshal encodes the link as a payload, with empty maps rather than nulls.
// An artifact path that is not UTF-8 is refused: JSON would carry it as
// U+FFFD, another name (step names are checked by ValidateStepName).
func (l *Link) Marshal() ([]byte, error) {
	c := *l
	c.Type = "link"
	if c.Materials == nil {
		c.Materials = map[string]HashObj{}
	}
	if c.Products == nil {
		c.Products = map[string]HashObj{}
	}
	if c.Byproducts == nil {
		c.Byproducts = map[string]any{}
	}
	if c.Environment == nil {
		c.Environment = map[string]any{}
	}
	c.Command = nonNil(c.Command)
	return appendLink(nil, &c)
}

// marshalPayload encodes v as compact JSON. It is deliberately not the
// canonical form: canonical JSON leaves newlines inside strings raw (PEM
// keys, stdout), which is not valid JSON, and a DSSE payload must be (this
// is why in-toto-golang cannot read its own DSSE layouts with RSA keys).
// Metablock signatures are computed over the canonical form regardless.
func marshalPayload(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
