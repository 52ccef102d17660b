package attest

import (
	"bytes"
	"encoding/hex"
)

// scanEnvelope is ParseEnvelope in one pass over data (canonScan), for
// large links, where encoding/json's passes (CheckJSON, then decoding)
// cost most of reading them. It reads the plain forms only: ok is false
// for anything else (fields other than the forms', an error), and
// parseEnvelope decides. The payload of a Metablock is a slice of data.
func scanEnvelope(data []byte) (e *Envelope, ok bool) {
	s := &canonScan{data: data}
	var signed, sigs []byte
	var kind string
	var spans []fieldSpan
	var payloadType, payload64 *string
	hook := func(key []byte) memberReader {
		switch string(key) {
		case "signed":
			return func(depth int) error {
				start := s.pos
				if s.peek() != '{' {
					return errDecline
				}
				var err error
				kind, spans, err = s.kind(depth, start)
				signed = s.data[start:s.pos]
				return err
			}
		case "signatures":
			return func(depth int) error {
				start := s.pos
				err := s.value(depth)
				sigs = s.data[start:s.pos]
				return err
			}
		case "payloadType":
			payloadType = new(string)
			return s.decoded(payloadType)
		case "payload":
			payload64 = new(string)
			return s.decoded(payload64)
		}
		return decline
	}
	s.ws()
	if s.peek() != '{' || s.object(0, hook) != nil {
		return nil, false
	}
	if s.ws(); s.pos != len(data) || sigs == nil {
		return nil, false
	}
	list, ok := scanSignatures(sigs)
	if !ok {
		return nil, false
	}
	switch {
	case signed != nil && payloadType == nil && payload64 == nil:
		e = &Envelope{Form: FormMetablock, Payload: signed}
		e.setKind(kind, spans)
		for _, sig := range list {
			b, err := hex.DecodeString(sig.Sig)
			if err != nil {
				return nil, false
			}
			e.Signatures = append(e.Signatures, Signature{KeyID: sig.KeyID, Sig: b})
		}
		return e, true
	case signed == nil && payloadType != nil && payload64 != nil && *payloadType == PayloadType:
		payload, err := decodeB64(*payload64)
		if err != nil {
			return nil, false
		}
		ps := &canonScan{data: payload}
		ps.ws()
		if ps.peek() == '{' {
			kind, spans, err = ps.kind(0, 0)
		} else {
			kind, err = "", ps.value(0)
		}
		if ps.ws(); err != nil || ps.pos != len(payload) {
			return nil, false
		}
		e = &Envelope{Form: FormDSSE, PayloadType: PayloadType, Payload: payload}
		if kind != StatementTypeV1 && kind != StatementTypeV01 {
			e.setKind(kind, spans)
		}
		for _, sig := range list {
			b, err := decodeB64(sig.Sig)
			if err != nil {
				return nil, false
			}
			e.Signatures = append(e.Signatures, Signature{KeyID: sig.KeyID, Sig: b})
		}
		return e, true
	}
	return nil, false
}

// scanSignatures decodes a list of signatures, each with the fields of
// the forms exactly ("keyid", "sig", in-toto-golang's "cert"), at most
// maxSignatures of them.
func scanSignatures(raw []byte) ([]signatureJSON, bool) {
	s := &canonScan{data: raw}
	if s.peek() != '[' {
		return nil, false
	}
	var list []signatureJSON
	var cur *signatureJSON
	hook := func(key []byte) memberReader {
		switch string(key) {
		case "keyid":
			return s.decoded(&cur.KeyID)
		case "sig":
			return s.decoded(&cur.Sig)
		case "cert":
			return nil // any value, not read
		}
		return decline
	}
	s.pos++
	if s.ws(); s.peek() == ']' {
		s.pos++
		return list, s.pos == len(raw)
	}
	for {
		if s.ws(); s.peek() != '{' || len(list) == maxSignatures {
			return nil, false
		}
		list = append(list, signatureJSON{})
		cur = &list[len(list)-1]
		if s.object(1, hook) != nil {
			return nil, false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return list, s.pos == len(raw)
		default:
			return nil, false
		}
	}
}

// hashes reads a value as value does, quickly where it is what a link's
// materials and products nearly always are: an object of paths to
// {"sha256":"<64 lowercase hex>"} (soleSHA256), each of which is valid
// JSON, the same value whatever reads it.
func (s *canonScan) hashes(depth int) error {
	if s.emit || s.peek() != '{' {
		return s.value(depth)
	}
	return s.object(depth, func([]byte) memberReader { return s.hashObject })
}

// hashObject reads one value of hashes.
func (s *canonScan) hashObject(depth int) error {
	if end, ok := skipSoleSHA256(s.data, s.pos); ok {
		s.pos = end
		return nil
	}
	return s.value(depth)
}

// kind reads an object and returns its "_type" as PayloadKind would (""
// when it would say more: no "_type", or a field that differs from it in
// case only), and where the values of its fields are (offsets from
// payloadStart, where the payload begins in s.data; nil beyond a link's
// seven fields).
func (s *canonScan) kind(depth, payloadStart int) (string, []fieldSpan, error) {
	var typ string
	var spans []fieldSpan
	objStart := payloadStart
	variant := false
	err := s.object(depth, func(key []byte) memberReader {
		read := s.value
		switch {
		case string(key) == "_type":
			read = s.decoded(&typ)
		case bytes.EqualFold(key, []byte("_type")):
			variant = true
		case string(key) == "materials" || string(key) == "products":
			read = s.hashes
		}
		return func(depth int) error {
			start := s.pos
			err := read(depth)
			spans = append(spans, fieldSpan{key: string(key), start: start - objStart, end: s.pos - objStart})
			return err
		}
	})
	if variant {
		typ = ""
	}
	if len(spans) > 7 {
		spans = nil
	}
	return typ, spans, err
}
