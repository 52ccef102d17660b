package oci

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/workers"
)

// Trust says which documents DiscoverAndGather keeps whatever their size:
// those signed by a trusted key. The trusted keys are Keys (the layout
// keys), and the keys named by every kept layout (a root layout signed by
// a layout key names its functionaries; a sublayout signed by one of them
// names its own), which is every key that verification could count
// (https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#51-verification-workflow).
// Other documents are kept only while small (up to 1 MiB each, 8 MiB in
// all per image), so that verification can say why they did not count.
// The rest are dropped as they arrive and reported in Bundle.Skipped:
// only their signatures are read, and their payload is decoded only to
// check a signature that names a trusted key (or none), or to tell
// another tool's in-toto Statement, ignored as before, from a link. A
// document dropped before the layout naming its key arrived is fetched
// again at the end.
type Trust struct {
	// Keys are the layout keys.
	Keys []*attest.Key
	// Layouts are layouts given beside the store (--layout): those signed
	// by one of Keys have their keys trusted from the start.
	Layouts []*attest.Envelope
}

const (
	// maxPooledDoc is the largest untrusted document kept for the report.
	maxPooledDoc = 1 << 20
	// maxPooled bounds the untrusted documents kept for one image.
	maxPooled = 8 << 20
	// maxSignatures is attest's bound on the signatures of an envelope.
	maxSignatures = 64
)

// screen is the trust state of one gather.
type screen struct {
	mu    sync.Mutex
	keys  map[string][]*attest.Key // by keyid
	all   []*attest.Key
	epoch int            // keys added so far, in batches
	added map[string]int // keyid: the epoch it was added in
	// pool holds untrusted documents kept for the report, with their
	// size, while they may still turn out to be trusted.
	pool      map[*Document]int64
	poolBytes int64
	// dropped are documents not kept, which a key added later may make
	// worth fetching again.
	dropped []*dropped
}

// dropped is a document dropped by the screen.
type dropped struct {
	node    *Node
	layer   ocispec.Descriptor
	keyIDs  []string // claimed by its signatures
	anyKey  bool     // a signature names no key: every key is tried
	epoch   int      // the keys it was checked against
	reason  string
	retried bool
	kept    bool // fetched again and kept
}

func newScreen(t *Trust) *screen {
	if t == nil || len(t.Keys) == 0 {
		return nil
	}
	s := &screen{keys: map[string][]*attest.Key{}, added: map[string]int{}, pool: map[*Document]int64{}}
	s.add(t.Keys)
	for _, env := range t.Layouts {
		if env != nil && s.trusts(env) {
			s.addLayout(env)
		}
	}
	return s
}

// add trusts keys, as one epoch.
func (s *screen) add(keys []*attest.Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	grew := false
	for _, k := range keys {
		if k == nil || containsKey(s.keys[k.KeyID], k) {
			continue
		}
		if !grew {
			s.epoch++
			grew = true
		}
		// A signature may name the key by any of its keyids (in-toto 1.3's
		// or current in-toto's), so the key is found under each.
		for _, id := range k.IDs() {
			s.keys[id] = append(s.keys[id], k)
			s.added[id] = s.epoch
		}
		s.all = append(s.all, k)
	}
	return grew
}

func containsKey(ks []*attest.Key, k *attest.Key) bool {
	for _, o := range ks {
		if o == k || (o.KeyID == k.KeyID && o.KeyVal == k.KeyVal) {
			return true
		}
	}
	return false
}

// addLayout trusts the keys of a kept layout.
func (s *screen) addLayout(env *attest.Envelope) bool {
	l, err := env.ParsedLayout()
	if err != nil {
		return false
	}
	keys := make([]*attest.Key, 0, len(l.Keys))
	for _, id := range l.KeyIDs() {
		keys = append(keys, l.Keys[id])
	}
	return s.add(keys)
}

// candidates returns, for each signature, the trusted keys it may be by
// (those of its keyid, or all for a signature without one, as
// attest.Envelope.VerifyKey tries them), whether some signature's keyid
// is not trusted (yet), and the epoch of the keys.
func (s *screen) candidates(keyIDs []string) (cands [][]*attest.Key, unknown bool, epoch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cands = make([][]*attest.Key, len(keyIDs))
	for i, id := range keyIDs {
		switch {
		case id == "":
			cands[i] = s.all
			unknown = true
		case s.keys[id] != nil:
			cands[i] = s.keys[id]
		default:
			unknown = true
		}
	}
	return cands, unknown, s.epoch
}

// check reports whether env has a signature by a trusted key; if not,
// whether a key trusted later could make it so, and the epoch of the keys
// it was checked against.
func (s *screen) check(env *attest.Envelope) (ok, unknown bool, epoch int) {
	cands, unknown, epoch := s.candidates(env.SignerKeyIDs())
	tried := map[*attest.Key]bool{}
	for _, ks := range cands {
		for _, k := range ks {
			if !tried[k] {
				tried[k] = true
				if env.VerifyKey(k) == nil {
					return true, false, epoch
				}
			}
		}
	}
	return false, unknown, epoch
}

// trusts reports whether env has a signature by a trusted key.
func (s *screen) trusts(env *attest.Envelope) bool {
	ok, _, _ := s.check(env)
	return ok
}

// keep records a trusted document: a layout's keys become trusted, and
// documents in the pool that they sign leave it.
func (s *screen) keep(d *Document) {
	if d.Kind != "layout" || !s.addLayout(d.Envelope) {
		return
	}
	s.recheckPool()
}

// recheckPool takes out of the pool the documents now trusted.
func (s *screen) recheckPool() {
	for {
		s.mu.Lock()
		docs := make([]*Document, 0, len(s.pool))
		for d := range s.pool {
			docs = append(docs, d)
		}
		s.mu.Unlock()
		trusted := s.trustsAll(docs)
		var layouts []*Document
		for i, d := range docs {
			if trusted[i] {
				s.mu.Lock()
				if w, ok := s.pool[d]; ok {
					delete(s.pool, d)
					s.poolBytes -= w
					if d.Kind == "layout" {
						layouts = append(layouts, d)
					}
				}
				s.mu.Unlock()
			}
		}
		grew := false
		for _, d := range layouts {
			grew = s.addLayout(d.Envelope) || grew
		}
		if !grew {
			return
		}
	}
}

// trustsAll is trusts for each of docs, on every core: a layout that
// arrives after its links (hundreds of them) has them all checked at once.
// A worker per core takes them in turn (not a goroutine each, whose
// stack the signature check would grow).
func (s *screen) trustsAll(docs []*Document) []bool {
	trusted := make([]bool, len(docs))
	workers.Each(runtime.GOMAXPROCS(0), len(docs), func(i int) {
		trusted[i] = s.trusts(docs[i].Envelope)
	})
	return trusted
}

// pooled adds an untrusted document to the pool if there is room.
func (s *screen) pooled(d *Document, size int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > maxPooledDoc || s.poolBytes+size > maxPooled {
		return false
	}
	s.pool[d] = size
	s.poolBytes += size
	return true
}

// unpool forgets a document no longer kept.
func (s *screen) unpool(d *Document) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.pool[d]; ok {
		delete(s.pool, d)
		s.poolBytes -= w
	}
}

// drop records a document not kept. Unless every signature names a key
// that was already trusted (and failed), a key trusted later may make it
// worth fetching again.
func (s *screen) drop(n *Node, l ocispec.Descriptor, keyIDs []string, unknown bool, epoch int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &dropped{node: n, layer: l, keyIDs: keyIDs, epoch: epoch, reason: reason, retried: !unknown}
	for _, id := range keyIDs {
		d.anyKey = d.anyKey || id == ""
	}
	s.dropped = append(s.dropped, d)
}

// retry returns the dropped documents that a key trusted since they were
// checked may sign, marking them retried.
func (s *screen) retry() []*dropped {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*dropped
	for _, d := range s.dropped {
		if d.retried || d.epoch == s.epoch {
			continue
		}
		again := d.anyKey
		for _, id := range d.keyIDs {
			again = again || s.added[id] > d.epoch
		}
		if again {
			d.retried = true
			out = append(out, d)
		}
	}
	return out
}

// envelopeHead is what screening reads of an envelope before deciding
// whether to decode its payload: its form and signatures. Payload and
// signed are only noted, not copied.
type envelopeHead struct {
	Signed      present         `json:"signed"`
	Payload     present         `json:"payload"`
	PayloadType string          `json:"payloadType"`
	Signatures  []signatureHead `json:"signatures"`
}

type signatureHead struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// present notes that a field is there without keeping its value.
type present bool

func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

// readHead reads an envelope's form and signatures; an envelope that is
// not plainly one form or the other is refused (attest.ParseEnvelope then
// says why).
func readHead(raw []byte) (*envelopeHead, error) {
	var h envelopeHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, err
	}
	switch {
	case bool(h.Signed) == bool(h.Payload):
		return nil, errors.New("not one envelope form")
	case len(h.Signatures) > maxSignatures:
		return nil, errors.New("too many signatures")
	case bool(h.Payload) && h.PayloadType != attest.PayloadType:
		return nil, errors.New("not an in-toto payload")
	}
	return &h, nil
}

func (h *envelopeHead) keyIDs() []string {
	ids := make([]string, len(h.Signatures))
	for i, s := range h.Signatures {
		ids[i] = s.KeyID
	}
	return ids
}

// dsseSigned decodes the payload of the DSSE envelope raw straight into
// its pre-authentication encoding (PAE), the bytes its signatures cover,
// as attest decodes it (standard or URL-safe base64, padded or not), with
// no other copy of the payload; it also returns the payload within it.
func dsseSigned(raw []byte) (pae, payload []byte, err error) {
	var p paePayload
	if err := json.Unmarshal(raw, &struct {
		Payload *paePayload `json:"payload"`
	}{&p}); err != nil {
		return nil, nil, err
	}
	if p.err != nil {
		return nil, nil, p.err
	}
	if !utf8.Valid(p.payload) {
		return nil, nil, errors.New("payload is not UTF-8")
	}
	return p.pae, p.payload, nil
}

// paePayload decodes a DSSE payload into a PAE.
type paePayload struct {
	pae, payload []byte
	err          error
}

// paeHead is the PAE up to the payload's length.
var paeHead = "DSSEv1 " + strconv.Itoa(len(attest.PayloadType)) + " " + attest.PayloadType + " "

func (p *paePayload) UnmarshalJSON(lit []byte) error {
	src := lit
	if len(lit) < 2 || lit[0] != '"' || bytes.IndexByte(lit, '\\') >= 0 {
		// Escaped (or not a string): unquote it as attest does.
		var s string
		if err := json.Unmarshal(lit, &s); err != nil {
			p.err = err
			return nil
		}
		src = []byte(s)
	} else {
		src = lit[1 : len(lit)-1]
	}
	// The header's last field is the payload's length, not known before
	// decoding: leave room for the longest.
	room := len(paeHead) + 21
	buf := make([]byte, room+base64.RawStdEncoding.DecodedLen(len(src)))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		n, err := enc.Decode(buf[room:], src)
		if err != nil {
			continue
		}
		head := paeHead + strconv.Itoa(n) + " "
		start := room - len(head)
		copy(buf[start:], head)
		p.pae, p.payload = buf[start:room+n], buf[room:room+n]
		return nil
	}
	p.err = errors.New("payload is not base64")
	return nil
}

// verifyDSSE reports whether a signature of h verifies over pae with one
// of cands (from candidates), as attest.Envelope.VerifyKey checks them.
func verifyDSSE(h *envelopeHead, pae []byte, cands [][]*attest.Key) bool {
	for i, s := range h.Signatures {
		if len(cands[i]) == 0 {
			continue
		}
		sig, err := decodeSig(s.Sig)
		if err != nil {
			continue
		}
		for _, k := range cands[i] {
			if k.Verify(pae, sig) == nil {
				return true
			}
		}
	}
	return false
}

func decodeSig(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// payloadType reads the "_type" of a payload, as a hint: attest reads it
// exactly once the document is kept.
func payloadType(payload []byte) string {
	var t struct {
		Type string `json:"_type"`
	}
	if json.Unmarshal(payload, &t) != nil {
		return ""
	}
	return t.Type
}

// metablockType reads the "_type" of a Metablock's "signed", as a hint.
func metablockType(raw []byte) string {
	var m struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return m.Signed.Type
}

// claimed lists the keys signatures claim, for a message: at most four,
// shortened and quoted (they come from the registry).
func claimed(ids []string) string {
	if len(ids) == 0 {
		return "no signatures"
	}
	var out []string
	for i, id := range ids {
		if i == 4 {
			out = append(out, fmt.Sprintf("and %d more", len(ids)-i))
			break
		}
		if len(id) > 8 {
			id = id[:8]
		}
		out = append(out, strconv.Quote(id))
	}
	return "signatures claim keys " + strings.Join(out, ", ")
}
