package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// appendEnvelope appends e in its form exactly as encoding/json (HTML not
// escaped, indented by one space, a newline after) encodes the structs
// envelopeRef in envelopewrite_test.go names. It is hand-written for speed:
// encoding/json made a string of the base64 payload (17 MB for a link of
// 100,000 artifacts) and then scanned the whole document again to indent
// it (~330 ms); this encodes the payload straight into the output. The
// tests compare it with encoding/json byte for byte.
func appendEnvelope(dst []byte, e *Envelope) ([]byte, error) {
	switch e.Form {
	case FormDSSE:
		size := 128 + base64.StdEncoding.EncodedLen(len(e.Payload))
		for _, s := range e.Signatures {
			size += 32 + len(s.KeyID) + base64.StdEncoding.EncodedLen(len(s.Sig))
		}
		dst = appendDSSEHead(slices.Grow(dst, size), e)
		dst = appendSignatures(dst, e.Signatures, base64.StdEncoding.AppendEncode)
		return append(dst, "\n}\n"...), nil
	case FormMetablock:
		dst = append(dst, "{\n \"signatures\": "...)
		dst = appendSignatures(dst, e.Signatures, hex.AppendEncode)
		dst = append(dst, ",\n \"signed\": "...)
		if e.Payload == nil {
			dst = append(dst, "null"...)
		} else {
			// As encoding/json writes a json.RawMessage when indenting:
			// compacted, then indented one level deeper.
			buf := bytes.NewBuffer(dst)
			if err := json.Indent(buf, bytes.TrimRight(e.Payload, " \t\r\n"), " ", " "); err != nil {
				return nil, err
			}
			dst = buf.Bytes()
		}
		return append(dst, "\n}\n"...), nil
	}
	return nil, errors.New("envelope of unknown form")
}

// WriteSignedFile signs payload in an envelope of form and writes it to
// path as WriteFileAtomic does, returning the bytes written: those of
// SignPayload and Marshal. For a DSSE envelope, what precedes the
// signatures (the encoded payload, base64: most of the bytes) is
// encoded, written and, from earlySync bytes, made durable on one core
// while the payload is signed on another: a 13 MB link (100,000
// artifacts) waits for neither.
func WriteSignedFile(path string, perm fs.FileMode, force bool, form Form, payload []byte, signers ...*Signer) ([]byte, error) {
	f, err := createAtomic(path, perm, force)
	if err != nil {
		return nil, err
	}
	defer f.abort()
	written := 0
	data, err := signEncoded(form, payload, signers, func(head []byte) error {
		written = len(head)
		if err := f.write(head); err != nil {
			return err
		}
		if len(head) < earlySync {
			return nil // one sync, at commit, costs less than two
		}
		return f.sync()
	})
	if err != nil {
		return nil, err
	}
	if err := f.write(data[written:]); err != nil {
		return nil, err
	}
	if err := f.commit(); err != nil {
		return nil, err
	}
	return data, nil
}

// earlySync is the size of an encoded payload from which WriteSignedFile
// syncs it while the payload is signed: below it, the file is synced
// once, at commit.
const earlySync = 1 << 20

// signEncoded signs payload and encodes the envelope; for DSSE, head is
// called with what precedes the signatures while they are made.
func signEncoded(form Form, payload []byte, signers []*Signer, head func([]byte) error) ([]byte, error) {
	if form != FormDSSE {
		e, err := SignPayload(form, payload, signers...)
		if err != nil {
			return nil, err
		}
		return e.Marshal()
	}
	e := NewEnvelope(form, payload)
	var signErr error
	signed := make(chan struct{})
	go func() {
		defer close(signed)
		defer func() {
			// On this goroutine no caller could recover it, and the
			// caller's cleanup (WriteSignedFile's temporary file) would
			// not run.
			if r := recover(); r != nil {
				signErr = fmt.Errorf("signing: %v", r)
			}
		}()
		for _, s := range signers {
			if signErr = e.Sign(s); signErr != nil {
				return
			}
		}
	}()
	// What precedes the signatures, as appendEnvelope writes it: it reads
	// only Payload and PayloadType, which signing does not change.
	size := 128 + base64.StdEncoding.EncodedLen(len(payload)) + len(signers)*maxSignatureEncoding
	dst := appendDSSEHead(make([]byte, 0, size), e)
	headErr := head(dst)
	<-signed
	if signErr != nil {
		return nil, signErr
	}
	if headErr != nil {
		return nil, headErr
	}
	dst = appendSignatures(dst, e.Signatures, base64.StdEncoding.AppendEncode)
	return append(dst, "\n}\n"...), nil
}

// maxSignatureEncoding bounds what a signature takes in a DSSE envelope
// (its keyid, a 4096-bit RSA signature in base64, the JSON around them),
// for sizing the buffer the envelope is encoded in once.
const maxSignatureEncoding = 1 << 10

// appendDSSEHead appends what a DSSE envelope's encoding holds before its
// signatures.
func appendDSSEHead(dst []byte, e *Envelope) []byte {
	dst = append(dst, "{\n \"payloadType\": "...)
	dst = appendJSONString(dst, e.PayloadType)
	dst = append(dst, ",\n \"payload\": \""...)
	dst = base64.StdEncoding.AppendEncode(dst, e.Payload)
	return append(dst, "\",\n \"signatures\": "...)
}

// appendSignatures appends sigs as an array at the envelope's first level,
// each signature's bytes encoded by enc.
func appendSignatures(dst []byte, sigs []Signature, enc func(dst, src []byte) []byte) []byte {
	if len(sigs) == 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, '[')
	for i, s := range sigs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, "\n  {\n   \"keyid\": "...)
		dst = appendJSONString(dst, s.KeyID)
		dst = append(dst, ",\n   \"sig\": \""...)
		dst = enc(dst, s.Sig)
		dst = append(dst, "\"\n  }"...)
	}
	return append(dst, "\n ]"...)
}
