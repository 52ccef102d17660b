package oci_test

import (
	"bytes"
	"testing"

	"github.com/referee-dev/referee/oci"
)

// FuzzParseSigstoreBundle: no bundle makes ParseSigstoreBundle panic, and
// one it accepts holds a DSSE envelope of an in-toto payload.
func FuzzParseSigstoreBundle(f *testing.F) {
	for _, name := range []string{"bundle.slsa.json", "bundle.custom.json", "bundle.vuln-uri.json"} {
		f.Add(cosignFile(f, name))
	}
	f.Add([]byte(`{"mediaType":"` + oci.MediaTypeSigstoreBundle + `","messageSignature":{}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2","dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := oci.ParseSigstoreBundle(data)
		if err != nil {
			if env != nil || bytes.Contains([]byte(err.Error()), []byte("\n")) {
				t.Fatalf("envelope with error, or a message of several lines: %v", err)
			}
			return
		}
		if env.PayloadType != "application/vnd.in-toto+json" {
			t.Fatalf("payload type %q", env.PayloadType)
		}
	})
}

// TestCosignAttestationTag: the tag cosign keeps legacy attestations under.
func TestCosignAttestationTag(t *testing.T) {
	if got := oci.CosignAttestationTag(cosignV1); got != "sha256-90e736f0cde147859df11cfa7c3bc0b6f9d4b6ff59d9b9097e05eeebffecb9ac.att" || !oci.IsEvidenceTag(got) {
		t.Fatal(got)
	}
}
