package verify_test

import (
	"context"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// TestImageNativeCheckOnAttachedArtifacts: from a registry alone (both
// referrer paths), a layout's native check reads the artifact attached to
// the image whose path and sha256 the verified build link records; a
// false check, an artifact not attached, or one attached with other bytes
// under the recorded path fails, naming the inspection; promote's walk
// counts the artifact referrer as used.
func TestImageNativeCheckOnAttachedArtifacts(t *testing.T) {
	const (
		clean    = `{"vulnerabilities":[{"id":"CVE-1","severity":"LOW"}]}`
		critical = `{"vulnerabilities":[{"id":"CVE-2","severity":"CRITICAL"}]}`
	)
	for _, api := range []bool{true, false} {
		for _, tc := range []struct {
			name     string
			recorded string // the report the build link records
			attached string // what is attached under its path ("": nothing)
			want     []string
		}{
			{"clean", clean, clean, nil},
			{"critical", critical, critical, []string{"verify-no-critical-vulns", "CVE-2"}},
			{"not attached", clean, "", []string{"verify-no-critical-vulns", "report.json"}},
			{"other bytes attached", critical, clean, []string{"verify-no-critical-vulns", "report.json"}},
		} {
			t.Run(map[bool]string{true: "referrers API/", false: "tag schema/"}[api]+tc.name, func(t *testing.T) {
				c := newTMChain(t)
				s := tmOpen(t, tmRegistry(t, api)+"/app")
				image := tmPushImage(t, s, "app.tar contents")
				l := c.layout()
				l.Steps[0].ExpectedProducts = rules(t, "CREATE app.tar", "CREATE report.json", "DISALLOW *")
				l.Inspect = []attest.Inspection{{Name: "verify-no-critical-vulns",
					Run:               []string{"referee", "check", "--cel", `input.vulnerabilities.all(v, v.severity != "CRITICAL")`, "report.json"},
					ExpectedMaterials: rules(t, "MATCH report.json WITH PRODUCTS FROM build", "DISALLOW *")}}
				tmAttach(t, s, image, c.signLayout(l, 1), oci.AttachOptions{})
				tmAttach(t, s, image, c.link("build", "bob", nil, map[string]attest.HashObj{"app.tar": sha("app.tar contents"), "report.json": sha(tc.recorded)}), oci.AttachOptions{})
				tmAttach(t, s, image, c.pushLink("alice", "app.tar contents", image), oci.AttachOptions{})
				var artifact string
				if tc.attached != "" {
					a, err := oci.AttachArtifact(context.Background(), s, image, "report.json", []byte(tc.attached), oci.ArtifactOptions{})
					if err != nil {
						t.Fatal(err)
					}
					artifact = a.Manifest.Digest.String()
				}
				w, err := verify.ImageWalk(context.Background(), s, image, verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}})
				if tc.want == nil {
					wantImagePass(t, w.Report, err, image)
					if !w.Used[artifact] {
						t.Errorf("the artifact referrer %s is not among those used: %v", artifact, w.Used)
					}
					return
				}
				t.Log(wantImageFail(t, w.Report, err, tc.want...))
			})
		}
	}
}
