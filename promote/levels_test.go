package promote_test

// The VSA's verifiedLevels: without --level, the SLSA Build level the
// verified evidence supports (from the owner's declaration in the signed
// layout); with --level, a SLSA Build level the evidence does not support
// refuses the promotion, nothing copied.

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// slsaLayout is the owner's layout in which bob builds app.tar (a link,
// no sublayout) and alice pushes the image, with the SLSA declaration
// given (nil: none) and readme lines added.
func (c *peChain) slsaLayout(d *attest.SLSADeclaration, readme ...string) []byte {
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{}}
	for _, who := range []string{"alice", "bob"} {
		l.Keys[c.id(who)] = c.keys[who].Key()
	}
	l.Steps = []attest.Step{
		{Name: "build", Threshold: 1, PubKeys: []string{c.id("bob")}, ExpectedProducts: c.rules("CREATE app.tar", "DISALLOW *")},
		{Name: "push", Threshold: 1, PubKeys: []string{c.id("alice")},
			ExpectedMaterials: c.rules("MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *"),
			ExpectedProducts:  c.rules("CREATE "+attest.ImageArtifact, "DISALLOW *")},
	}
	if d != nil {
		if err := l.SetSLSA(d); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, line := range readme {
		l.Readme += "\n" + line
	}
	payload, err := l.Marshal()
	return c.sign(payload, err, "owner")
}

// slsaImage pushes an image to a new repository of src and attaches the
// layout, bob's build link and alice's push link.
func (c *peChain) slsaImage(t *testing.T, host, repo string, layout []byte) (oci.Store, ocispec.Descriptor) {
	t.Helper()
	s := testenv.Open(t, host+"/"+repo)
	image := testenv.PushImage(t, s, repo)
	peAttach(t, s, image, layout, oci.AttachOptions{})
	peAttach(t, s, image, c.link("build", "bob", nil, map[string]attest.HashObj{"app.tar": peSHA("tar")}), oci.AttachOptions{})
	peAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
	return s, image
}

func TestPromoteRecordsTheSupportedLevel(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	src, dst := testenv.Registry(t, true), testenv.Registry(t, true)
	bob := c.id("bob")
	for _, tc := range []struct {
		name string
		decl *attest.SLSADeclaration
		want string
	}{
		{"no declaration", nil, "SLSA_BUILD_LEVEL_0"},
		{"build step", &attest.SLSADeclaration{Build: "build"}, "SLSA_BUILD_LEVEL_1"},
		{"hosted", &attest.SLSADeclaration{Build: "build", Hosted: []string{bob}}, "SLSA_BUILD_LEVEL_2"},
		{"hardened", &attest.SLSADeclaration{Build: "build", Hosted: []string{bob}, Hardened: []string{bob}}, "SLSA_BUILD_LEVEL_3"},
		{"hosted, by the current keyid", &attest.SLSADeclaration{Build: "build", Hosted: []string{c.keys["bob"].Key().CurrentID()}}, "SLSA_BUILD_LEVEL_2"},
		{"the push step declared the build", &attest.SLSADeclaration{Build: "push", Hosted: []string{c.id("alice")}}, "SLSA_BUILD_LEVEL_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := strings.ToLower(strings.NewReplacer(" ", "-", ",", "").Replace(tc.name))
			s, image := c.slsaImage(t, src, repo, c.slsaLayout(tc.decl))
			d := testenv.Open(t, dst+"/"+repo)
			res, err := promote.Promote(ctx, s, src+"/"+repo, image, d, dst+"/"+repo, "release", c.options())
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"IN_TOTO_LAYOUT_VERIFIED", tc.want}
			if !reflect.DeepEqual(res.Levels, want) || res.SLSA == nil || res.SLSA.Level.String() != tc.want {
				t.Fatalf("levels %v, slsa %+v", res.Levels, res.SLSA)
			}
			acc, err := promote.CheckVSA(ctx, d, image, promote.VSAPolicy{Keys: []*attest.Key{c.keys["promoter"].Key()}})
			if err != nil || !reflect.DeepEqual(acc.Summary.Levels, want) {
				t.Fatalf("summary: %v %+v", err, acc)
			}
			// Promoting again computes the same level: no second summary.
			again, err := promote.Promote(ctx, s, src+"/"+repo, image, d, dst+"/"+repo, "release", c.options())
			if err != nil || !again.VSAExisted {
				t.Fatalf("again: %v %+v", err, again)
			}
		})
	}
}

func TestPromoteLevelChecked(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	src, dst := testenv.Registry(t, true), testenv.Registry(t, true)
	hosted := &attest.SLSADeclaration{Build: "build", Hosted: []string{c.id("bob")}} // L2
	for _, tc := range []struct {
		name   string
		layout []byte
		levels []string
		dryRun bool
		// notVerified: refused after verification, nothing copied;
		// err: refused before it; neither: promoted with levels.
		notVerified, err []string
		slsa             bool // res.SLSA is set (verification passed)
	}{
		{name: "the supported level", layout: c.slsaLayout(hosted), levels: []string{"SLSA_BUILD_LEVEL_2"}, slsa: true},
		{name: "a lower level", layout: c.slsaLayout(hosted), levels: []string{"IN_TOTO_LAYOUT_VERIFIED", "SLSA_BUILD_LEVEL_1"}, slsa: true},
		{name: "a custom level only", layout: c.slsaLayout(hosted), levels: []string{"ACME_REVIEWED"}, slsa: true},
		{name: "above the evidence", layout: c.slsaLayout(hosted), levels: []string{"SLSA_BUILD_LEVEL_3"}, slsa: true,
			notVerified: []string{"level SLSA_BUILD_LEVEL_3 is not supported by the evidence (it supports SLSA_BUILD_LEVEL_2)", "L3 hardened build platform is not met", "the layout declares no hardened build platform"}},
		{name: "above the evidence, dry run", layout: c.slsaLayout(hosted), levels: []string{"ACME_REVIEWED", "SLSA_BUILD_LEVEL_3"}, dryRun: true, slsa: true,
			notVerified: []string{"level SLSA_BUILD_LEVEL_3 is not supported"}},
		{name: "no declaration", layout: c.slsaLayout(nil), levels: []string{"SLSA_BUILD_LEVEL_1"}, slsa: true,
			notVerified: []string{"level SLSA_BUILD_LEVEL_1 is not supported by the evidence (it supports SLSA_BUILD_LEVEL_0)", "L1 provenance exists is not met: the layout declares no build step"}},
		{name: "another step declared the build", layout: c.slsaLayout(&attest.SLSADeclaration{Build: "push", Hosted: []string{c.id("alice")}}), levels: []string{"SLSA_BUILD_LEVEL_2"}, slsa: true},
		{name: "malformed declaration", layout: c.slsaLayout(nil, "referee-slsa: build=build hosted="+c.id("mallory")), slsa: true,
			notVerified: []string{"invalid layout: readme line", "is not a key of the layout"}},
		{name: "malformed declaration, custom level", layout: c.slsaLayout(nil, "referee-slsa: build=compile"), levels: []string{"ACME_REVIEWED"}, slsa: true,
			notVerified: []string{`invalid layout: readme line "referee-slsa: build=compile": build step "compile" is not a step of the layout`}},
		{name: "not a Build level", layout: c.slsaLayout(hosted), levels: []string{"SLSA_BUILD_LEVEL_4"},
			err: []string{`level "SLSA_BUILD_LEVEL_4" is not a SLSA v1.0 Build level`, "must not start with SLSA_"}},
		{name: "another track", layout: c.slsaLayout(hosted), levels: []string{"SLSA_SOURCE_LEVEL_1"},
			err: []string{`"SLSA_SOURCE_LEVEL_1" is not a SLSA v1.0 Build level`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := strings.ToLower(strings.NewReplacer(" ", "-", ",", "", "'", "").Replace(tc.name))
			s, image := c.slsaImage(t, src, repo, tc.layout)
			d := testenv.Open(t, dst+"/"+repo)
			o := c.options()
			o.Levels, o.DryRun = tc.levels, tc.dryRun
			res, err := promote.Promote(ctx, s, src+"/"+repo, image, d, dst+"/"+repo, "release", o)
			if ok, _ := d.Exists(ctx, image); ok != (len(tc.notVerified)+len(tc.err) == 0 && !tc.dryRun) {
				t.Errorf("image copied: %v", ok)
			}
			switch {
			case len(tc.err) > 0:
				if err == nil || verify.IsNotVerified(err) {
					t.Fatalf("error %v", err)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			case len(tc.notVerified) > 0:
				if !verify.IsNotVerified(err) || res == nil || res.Report == nil || res.Report.Verified {
					t.Fatalf("not refused: %v %+v", err, res)
				}
				for _, w := range tc.notVerified {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("multi-line error %q", err)
				}
				// The report says it too, as the CLI prints it.
				var b strings.Builder
				if err := res.Report.WriteText(&b); err != nil || !strings.Contains(b.String(), "FAIL ") || !strings.Contains(b.String(), tc.notVerified[0]) || !strings.HasSuffix(b.String(), "NOT VERIFIED\n") {
					t.Errorf("report:\n%s", b.String())
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(res.Levels, tc.levels) {
					t.Errorf("levels %v, want %v", res.Levels, tc.levels)
				}
				acc, err := promote.CheckVSA(ctx, d, image, promote.VSAPolicy{Keys: []*attest.Key{c.keys["promoter"].Key()}})
				if err != nil || !reflect.DeepEqual(acc.Summary.Levels, tc.levels) {
					t.Fatalf("summary: %v %+v", err, acc)
				}
			}
			if (res.SLSA != nil) != tc.slsa {
				t.Errorf("slsa result %+v", res.SLSA)
			}
		})
	}
}

// A level is checked against the layout verification chose: an older
// layout that declares a hardened build does not lend its level.
func TestPromoteLevelOfTheChosenLayout(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	src, dst := testenv.Registry(t, true), testenv.Registry(t, true)
	bob := c.id("bob")
	s, image := c.slsaImage(t, src, "app", c.slsaLayout(&attest.SLSADeclaration{Build: "build"}, "referee-layout-version: 2"))
	peAttach(t, s, image, c.slsaLayout(&attest.SLSADeclaration{Build: "build", Hosted: []string{bob}, Hardened: []string{bob}}, "referee-layout-version: 1"), oci.AttachOptions{})
	o := c.options()
	o.DryRun = true
	res, err := promote.Promote(ctx, s, src+"/app", image, testenv.Open(t, dst+"/app"), dst+"/app", "", o)
	if err != nil || res.SLSA == nil || res.SLSA.Level != slsa.BuildLevel1 || res.Report.Layout.Version != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	o.Levels = []string{"SLSA_BUILD_LEVEL_3"}
	if _, err := promote.Promote(ctx, s, src+"/app", image, testenv.Open(t, dst+"/app"), dst+"/app", "", o); !verify.IsNotVerified(err) || !strings.Contains(err.Error(), "it supports SLSA_BUILD_LEVEL_1") {
		t.Fatalf("%v", err)
	}
}
