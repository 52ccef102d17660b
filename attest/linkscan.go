package attest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// CompactLink is a link as verification reads it: its name, command and
// artifacts in compact form (Artifacts), without the byproducts and
// environment, which no rule reads.
type CompactLink struct {
	Name      string
	Command   []string
	Materials *Artifacts
	Products  *Artifacts
}

// Clone returns a copy of l that SharePaths may change without changing
// l: the artifact tables' headers are copied, their contents shared.
func (l *CompactLink) Clone() *CompactLink {
	c := *l
	for _, a := range []**Artifacts{&c.Materials, &c.Products} {
		if *a != nil {
			t := **a
			*a = &t
		}
	}
	return &c
}

// Compact returns the compact form of l.
func (l *Link) Compact() *CompactLink {
	return &CompactLink{Name: l.Name, Command: l.Command, Materials: NewArtifacts(l.Materials), Products: NewArtifacts(l.Products)}
}

// ScanLink reads the link in e in one pass over its payload: it checks
// what PayloadKind, ParseLink and SignedBytes check, and returns the link
// in compact form with the bytes its signatures cover (a Metablock's
// canonical form, written during the same pass). It reads plain links
// only: for any other payload (a layout, a Statement, a document it does
// not vouch for, one with an error) ok is false, and PayloadKind and
// ParseLink say what it is or what is wrong.
func ScanLink(e *Envelope) (l *CompactLink, signed *SignedContent, ok bool) {
	if e.Form != FormMetablock && e.Form != FormDSSE {
		return nil, nil, false
	}
	if l, signed, ok, tried := scanLinkSplit(e); tried {
		return l, signed, ok
	}
	// A Metablock's signatures cover the canonical form, written on the
	// way; a DSSE envelope's cover its payload as it is (dsse.PAE).
	s := &canonScan{data: e.Payload}
	if e.Form == FormMetablock {
		s.emit, s.out = true, make([]byte, 0, len(e.Payload))
	}
	l = &CompactLink{}
	var typ string
	materials, products := newArtifactsBuilder(), newArtifactsBuilder()
	hook := func(key []byte) memberReader {
		return s.linkField(string(key), l, &typ, materials, products)
	}
	s.ws()
	if s.peek() != '{' || s.object(0, hook) != nil {
		return nil, nil, false
	}
	if s.ws(); s.pos != len(s.data) {
		return nil, nil, false
	}
	return finishLink(e, l, typ, buildChecked(materials), buildChecked(products), s.out)
}

// linkField is the reader of a link's field key.
func (s *canonScan) linkField(key string, l *CompactLink, typ *string, materials, products *artifactsBuilder) memberReader {
	switch key {
	case "_type":
		return s.decoded(typ)
	case "name":
		return s.decoded(&l.Name)
	case "command":
		return s.decoded(&l.Command)
	case "materials":
		return s.artifacts(materials)
	case "products":
		return s.artifacts(products)
	case "byproducts", "environment":
		return s.objectOrNull
	}
	return decline
}

// finishLink checks what ScanLink read as checkLink does and returns it;
// materials and products are the tables buildChecked made (nil if it
// refused one).
func finishLink(e *Envelope, l *CompactLink, typ string, materials, products *Artifacts, canonical []byte) (*CompactLink, *SignedContent, bool) {
	if typ != "link" || l.Name == "" || materials == nil || products == nil {
		return nil, nil, false
	}
	l.Materials, l.Products = materials, products
	msg := canonical
	if e.Form == FormDSSE {
		msg = dsse.PAE(e.PayloadType, e.Payload)
	}
	// The signatures are all VerifyKey reads of e: the signed content
	// does not keep the payload (a large link's file) alive.
	return l, &SignedContent{env: &Envelope{Form: e.Form, Signatures: e.Signatures, memo: e.memo}, msg: msg}, true
}

// buildChecked finishes b's table and checks its paths as checkLink does
// (checkArtifactPath); it returns nil if two entries have one path or a
// path is refused.
func buildChecked(b *artifactsBuilder) *Artifacts {
	a := b.build()
	if a == nil {
		return nil
	}
	for i := range a.Len() {
		if checkArtifactPath(a.Path(i)) != nil {
			return nil
		}
	}
	return a
}

// minSplit is how large a link's materials and products must each be
// for ScanLink to read them on two cores.
var minSplit = 1 << 20

// scanLinkSplit is ScanLink on two cores, for a link whose materials and
// products are both large and whose fields' places are known from reading
// its envelope (scanEnvelope checked the whole payload then: UTF-8, no
// repeated field): the products are read on another goroutine, into a
// buffer of their own, and put in place in the canonical form, which is
// written in the order of its fields. tried is false where it does not
// apply.
func scanLinkSplit(e *Envelope) (l *CompactLink, signed *SignedContent, ok, tried bool) {
	kind, known := e.knownKind()
	if !known || kind != "link" || e.fields == nil {
		return nil, nil, false, false
	}
	var prod *fieldSpan
	large := 0
	for i, f := range e.fields {
		// A field's value follows its ':' (a check that the places
		// are this payload's).
		p := f.start - 1
		for p >= 0 && bytes.IndexByte([]byte(" \t\r\n"), e.Payload[p]) >= 0 {
			p--
		}
		if p < 0 || f.end > len(e.Payload) || e.Payload[p] != ':' {
			return nil, nil, false, false
		}
		switch f.key {
		case "materials", "products":
			if f.end-f.start >= minSplit {
				large++
			}
			if f.key == "products" {
				prod = &e.fields[i]
			}
		case "_type", "name", "command", "byproducts", "environment":
		default:
			return nil, nil, false, false
		}
	}
	if large < 2 {
		return nil, nil, false, false
	}
	fields := slices.Clone(e.fields)
	slices.SortFunc(fields, func(a, b fieldSpan) int { return strings.Compare(a.key, b.key) })
	if fields[len(fields)-1].key != "products" {
		return nil, nil, false, false
	}
	// The canonical form is never longer than the document (it drops
	// whitespace and writes no escape longer than it read), and products
	// come last in it: they are written at the end of buf, their
	// canonical form never longer than their text, while the fields
	// before them are written from its start, and then moved in place.
	payload := e.Payload
	buf := make([]byte, len(payload))
	at := len(payload) - (prod.end - prod.start)
	// Each goroutine also finishes its table and checks its paths.
	var products *Artifacts
	done := make(chan error, 1)
	ps := &canonScan{data: payload[:prod.end], pos: prod.start, emit: true, out: buf[at:at:len(buf)]}
	go func() {
		b := newArtifactsBuilder()
		err := ps.artifacts(b)(1)
		if err == nil && ps.pos != prod.end {
			err = errDecline
		}
		if err == nil {
			products = buildChecked(b)
		}
		done <- err
	}()
	l = &CompactLink{}
	var typ string
	materials := newArtifactsBuilder()
	s := &canonScan{emit: true, out: buf[:0:at]}
	s.out = append(s.out, '{')
	failed := false
	for i, f := range fields[:len(fields)-1] {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		s.writeString([]byte(f.key), false)
		s.out = append(s.out, ':')
		s.data, s.pos = payload[:f.end], f.start
		if s.linkField(f.key, l, &typ, materials, nil)(1) != nil || s.pos != f.end {
			failed = true
			break
		}
	}
	if len(fields) > 1 {
		s.out = append(s.out, ',')
	}
	s.writeString([]byte("products"), false)
	s.out = append(s.out, ':')
	var mt *Artifacts
	if !failed {
		mt = buildChecked(materials)
	}
	err := <-done
	if failed || err != nil || &s.out[0] != &buf[0] || len(s.out)+len(ps.out)+1 > len(buf) || &ps.out[:1][0] != &buf[at] {
		return nil, nil, false, true
	}
	n := len(s.out)
	n += copy(buf[n:], ps.out)
	buf[n] = '}'
	s.out = buf[:n+1]
	l, signed, ok = finishLink(e, l, typ, mt, products, s.out)
	return l, signed, ok, true
}

func decline(int) error { return errDecline }

// decoded reads a small value generically and decodes it into v with
// encoding/json (a string, a command), declining what does not fit.
func (s *canonScan) decoded(v any) memberReader {
	return func(depth int) error {
		if p, ok := v.(*string); ok && s.peek() == '"' {
			// A string, as value reads it: str has checked and unescaped
			// it as encoding/json would (invalid UTF-8 is declined, where
			// the library would replace it), at a tenth of the cost.
			str, plain, err := s.str()
			if err != nil {
				return err
			}
			s.writeString(str, plain)
			*p = string(str)
			return nil
		}
		if p, ok := v.(*[]string); ok && s.peek() == '[' {
			// A list of strings (a command), as array reads it; anything
			// else in it is read again the general way.
			start, out := s.pos, len(s.out)
			if list, ok := s.stringList(depth); ok {
				*p = list
				return nil
			}
			s.pos, s.out = start, s.out[:out]
		}
		start := s.pos
		if err := s.value(depth); err != nil {
			return err
		}
		if json.Unmarshal(s.data[start:s.pos], v) != nil {
			return errDecline
		}
		return nil
	}
}

// stringList reads an array of strings as array and value read it, and
// returns them as encoding/json decodes them into a []string (an empty
// array is an empty, non-nil list); false, with the reader's position to
// be restored, at anything else. It is array's loop written again, not
// array with an element reader: that indirection (and the closure the
// list needs) made reading a small link 7% slower, measured.
func (s *canonScan) stringList(depth int) ([]string, bool) {
	if depth >= maxJSONDepth {
		return nil, false
	}
	list := []string{}
	s.pos++
	if s.emit {
		s.out = append(s.out, '[')
	}
	s.ws()
	if s.peek() == ']' {
		s.pos++
		if s.emit {
			s.out = append(s.out, ']')
		}
		return list, true
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return nil, false
		}
		str, plain, err := s.str()
		if err != nil {
			return nil, false
		}
		s.writeString(str, plain)
		list = append(list, string(str))
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			if s.emit {
				s.out = append(s.out, ',')
			}
		case ']':
			s.pos++
			if s.emit {
				s.out = append(s.out, ']')
			}
			return list, true
		default:
			return nil, false
		}
	}
}

// objectOrNull reads a value that decodes into a map: an object or null.
func (s *canonScan) objectOrNull(depth int) error {
	start := s.pos
	if err := s.value(depth); err != nil {
		return err
	}
	if s.data[start] != '{' && !bytes.Equal(s.data[start:s.pos], []byte("null")) {
		return errDecline
	}
	return nil
}

// artifacts reads materials or products into b: null, or an object of
// paths to hash objects.
func (s *canonScan) artifacts(b *artifactsBuilder) memberReader {
	entry := func(key []byte) memberReader {
		return func(depth int) error {
			start := s.pos
			if err := s.value(depth); err != nil {
				return err
			}
			return addEntry(b, key, s.data[start:s.pos])
		}
	}
	return func(depth int) error {
		if bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
			return s.value(depth)
		}
		if s.peek() != '{' {
			return errDecline
		}
		return s.object(depth, entry)
	}
}

// maxFastAlgorithms is how many hash algorithms an entry may list for
// addEntry, which compares each with every other for case; more (no
// reference records more than a few) take the library path, which
// compares them through a map.
const maxFastAlgorithms = 8

// addEntry adds an entry whose hash object, already checked as JSON,
// is raw. The common one, {"sha256": "<64 lowercase hex>"}, is taken from
// the bytes; any other is decoded and checked as checkLink does.
func addEntry(b *artifactsBuilder, path, raw []byte) error {
	if d, ok := soleSHA256(raw); ok {
		b.add(path, d, nil)
		return nil
	}
	var h HashObj
	if json.Unmarshal(raw, &h) != nil || len(h) == 0 || len(h) > maxFastAlgorithms {
		return errDecline
	}
	algs := make([]string, 0, len(h))
	for alg, d := range h {
		for _, other := range algs {
			if strings.EqualFold(alg, other) {
				return errDecline
			}
		}
		algs = append(algs, alg)
		if d == "" || !isHex(d) {
			return errDecline
		}
	}
	if d, ok := h["sha256"]; ok && len(h) == 1 && IsSHA256Hex(d) {
		b.add(path, []byte(d), nil)
		return nil
	}
	b.add(path, nil, h)
	return nil
}

// isHex reports whether hex.DecodeString accepts d.
func isHex(d string) bool {
	if len(d)%2 != 0 {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// soleSHA256 matches {"sha256":"<64 lowercase hex>"}, with any JSON
// whitespace between the tokens, and returns the digest. It is most of a
// large link's entries: written without closures, with a table for the
// digits.
func soleSHA256(raw []byte) ([]byte, bool) {
	d, end, ok := sha256At(raw, 0)
	return d, ok && end == len(raw)
}

// skipSoleSHA256 matches, at data[p:], what soleSHA256 matches as a whole
// value, and returns where it ends.
func skipSoleSHA256(data []byte, p int) (int, bool) {
	_, end, ok := sha256At(data, p)
	return end, ok
}

// sha256At matches {"sha256":"<64 lowercase hex>"} at data[p:] and
// returns the digest and where the match ends.
func sha256At(data []byte, p int) ([]byte, int, bool) {
	p, ok := jsonToken(data, p, "{")
	if ok {
		p, ok = jsonToken(data, p, `"sha256"`)
	}
	if ok {
		p, ok = jsonToken(data, p, ":")
	}
	if ok {
		p, ok = jsonToken(data, p, `"`)
	}
	if !ok || p+65 > len(data) || data[p+64] != '"' {
		return nil, 0, false
	}
	d := data[p : p+64]
	for _, c := range d {
		if !lowerHex[c] {
			return nil, 0, false
		}
	}
	end, ok := jsonToken(data, p+65, "}")
	return d, end, ok
}

// lowerHex tells the lowercase hexadecimal digits.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// jsonToken skips JSON whitespace in raw from p, then tok, and returns
// where tok ends, or false if tok is not there.
func jsonToken(raw []byte, p int, tok string) (int, bool) {
	for p < len(raw) && (raw[p] == ' ' || raw[p] == '\n' || raw[p] == '\t' || raw[p] == '\r') {
		p++
	}
	if len(raw)-p < len(tok) || string(raw[p:p+len(tok)]) != tok {
		return p, false
	}
	return p + len(tok), true
}
