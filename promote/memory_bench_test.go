package promote_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/gcpace"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// BenchmarkCheckManyHostileMemory measures the peak resident memory of
// `referee verify - --parallel 8` on eight images, each with its owner's
// layout and eight 15 MiB link envelopes (under the 16 MiB blob limit)
// that are unsigned, signed by a key nobody authorises, or carry a
// signature claiming the functionary's key that is not by it. CheckMany
// runs in a child process (the registry serving the evidence runs in this
// one). It reports the peak over all the evidence bytes
// (peakRSS/evidence), the same less the idle child's
// (extraRSS/evidence), and both in MiB.
func BenchmarkCheckManyHostileMemory(b *testing.B) {
	ctx := context.Background()
	owner, _ := attest.GenerateKey("")
	f, _ := attest.GenerateKey("")
	attacker, _ := attest.GenerateKey("")
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{f.Key().KeyID: f.Key()}}
	l.Steps = []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{f.Key().KeyID}}}
	payload, err := l.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, owner)
	if err != nil {
		b.Fatal(err)
	}
	layout, err := env.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	pub, err := owner.Key().MarshalPublicPEM()
	if err != nil {
		b.Fatal(err)
	}
	keyFile := filepath.Join(b.TempDir(), "owner.pub")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		link func(step string) []byte
	}{
		{"unsigned", func(step string) []byte { return testenv.BigLink(b, step, 15<<20) }},
		{"self-signed", func(step string) []byte { return testenv.BigLink(b, step, 15<<20, attacker) }},
		{"forged-keyid", func(step string) []byte {
			env, err := attest.ParseEnvelope(testenv.BigLink(b, step, 15<<20, attacker))
			if err != nil {
				b.Fatal(err)
			}
			env.Signatures[0].KeyID = f.Key().KeyID
			data, err := env.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			return data
		}},
	} {
		links := make([][]byte, 8)
		for i := range links {
			links[i] = tc.link(fmt.Sprintf("step%d", i))
		}
		name := testenv.Registry(b, true) + "/app"
		s := testenv.Open(b, name)
		var refs []string
		var evidence int64
		for i := range 8 {
			image := testenv.PushImage(b, s, fmt.Sprintf("image %d", i))
			if _, err := oci.Attach(ctx, s, image, layout, oci.AttachOptions{}); err != nil {
				b.Fatal(err)
			}
			evidence += int64(len(layout))
			for j, link := range links {
				testenv.AttachRaw(b, s, image, fmt.Sprintf("step%d", j), link)
				evidence += int64(len(link))
			}
			refs = append(refs, name+"@"+image.Digest.String())
		}
		env := []string{"REFEREE_MEM_REFS=" + strings.Join(refs, ","), "REFEREE_MEM_KEY=" + keyFile}
		idle, _ := testenv.RunChild(b, "TestCheckManyMemoryChild", append(env, "REFEREE_MEM_MODE=idle")...)
		b.Run(tc.name, func(b *testing.B) {
			testenv.BenchPeakRSS(b, "TestCheckManyMemoryChild", append(env, "REFEREE_MEM_MODE=check"), idle, evidence)
		})
	}
}

// TestCheckManyMemoryChild is the child process of
// BenchmarkCheckManyHostileMemory: it checks the images REFEREE_MEM_REFS
// (comma-separated) eight at a time with the layout key in
// REFEREE_MEM_KEY (or does nothing when REFEREE_MEM_MODE is idle) and
// prints its peak RSS.
func TestCheckManyMemoryChild(t *testing.T) {
	if !testenv.InChild() {
		t.Skip("run by BenchmarkCheckManyHostileMemory")
	}
	gcpace.Start() // the collector paced as the referee command paces it
	pem, err := os.ReadFile(os.Getenv("REFEREE_MEM_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := attest.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("REFEREE_MEM_MODE") == "check" {
		o := promote.CheckOptions{Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{key}}}}
		failed := 0
		err := promote.CheckMany(context.Background(), strings.Split(os.Getenv("REFEREE_MEM_REFS"), ","), o, 8, func(out promote.Outcome) error {
			if _, ok := out.Err.(*verify.NotVerifiedError); !ok {
				return fmt.Errorf("%s: %v", out.Ref, out.Err)
			}
			failed++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%d images not verified, as expected\n", failed)
	}
	testenv.PrintPeakRSS(t)
}
