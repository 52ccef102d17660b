package verify_test

// Evidence for steps the layout does not name is not used and does not
// fail verification, as in both reference implementations (in-toto-golang
// loads only STEP.*.link for the layout's steps, which its
// TestInTotoVerifyPass relies on; Python loads only STEP.KEYID8.link of
// each step's functionaries, which test_verify_passing_empty_layout relies
// on): otherwise anyone who can push a referrer makes every image fail by
// attaching a self-signed link of a made-up step. Every case runs on a
// local link directory and on a registry, with junk beside an honest
// supply chain; the second table shows that with the junk present every
// other rule still fails closed.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// usDoc is one signed document as written to a link directory or attached
// to an image: a link, or a sublayout (a layout for step, with its own
// links in sub). step is the step its file name (and, for a sublayout, its
// annotation) says; who signed it names the file's keyid.
type usDoc struct {
	data []byte
	who  string
	step string
	sub  []usDoc
	// keyid8, when set, is the file name's keyid part, so that one
	// signer's links of one step can lie side by side.
	keyid8 string
	// junk marks what the report must list as not used.
	junk bool
}

// usMedium stores docs beside the layout and verifies: it returns the
// report and the names the report gives the junk documents (file paths or
// referrer digests).
type usMedium struct {
	name string
	run  func(t *testing.T, c *tmChain, layout []byte, docs func(image ocispec.Descriptor) []usDoc) (*verify.Report, []string, error)
}

// usLinkDir writes docs to a link directory and reads it with load
// (verify.LoadLinkDir, or verify.OpenLinkDir, which reads each file when
// it is examined).
func usLinkDir(load func(string) ([]verify.Evidence, error)) func(t *testing.T, c *tmChain, layout []byte, docs func(ocispec.Descriptor) []usDoc) (*verify.Report, []string, error) {
	return func(t *testing.T, c *tmChain, layout []byte, docs func(ocispec.Descriptor) []usDoc) (*verify.Report, []string, error) {
		dir := t.TempDir()
		image := ocispec.Descriptor{Digest: digest.FromString("the image")}
		var junk []string
		var write func(dir string, ds []usDoc)
		write = func(dir string, ds []usDoc) {
			for _, d := range ds {
				name := attest.LinkFileName(d.step, c.keyID(d.who))
				if d.keyid8 != "" {
					name = attest.LinkFileName(d.step, d.keyid8)
				}
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, d.data, 0o644); err != nil {
					t.Fatal(err)
				}
				if d.junk {
					junk = append(junk, p)
				}
				if len(d.sub) > 0 {
					subdir := strings.TrimSuffix(p, ".link")
					if err := os.Mkdir(subdir, 0o755); err != nil {
						t.Fatal(err)
					}
					write(subdir, d.sub)
				}
			}
		}
		write(dir, docs(image))
		env, err := attest.ParseEnvelope(layout)
		if err != nil {
			t.Fatal(err)
		}
		links, err := load(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := verify.Verify(context.Background(), verify.Evidence{Source: "root.layout", Envelope: env}, links,
			verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, ImageDigest: image.Digest.String()})
		return r, junk, err
	}
}

var usMedia = []usMedium{
	{"link directory", usLinkDir(verify.LoadLinkDir)},
	{"link directory read as examined", usLinkDir(verify.OpenLinkDir)},
	{"registry", func(t *testing.T, c *tmChain, layout []byte, docs func(ocispec.Descriptor) []usDoc) (*verify.Report, []string, error) {
		s := tmOpen(t, tmRegistry(t, true)+"/app")
		image := tmPushImage(t, s, "tar")
		tmAttach(t, s, image, layout, oci.AttachOptions{})
		var junk []string
		var attach func(subject ocispec.Descriptor, ds []usDoc)
		attach = func(subject ocispec.Descriptor, ds []usDoc) {
			for _, d := range ds {
				var o oci.AttachOptions
				if len(d.sub) > 0 || isLayout(t, d.data) {
					o.Step = d.step
				}
				m := tmAttach(t, s, subject, d.data, o)
				if d.junk {
					junk = append(junk, m.Digest.String())
				}
				attach(m, d.sub)
			}
		}
		attach(image, docs(image))
		r, err := c.verify(s, image, verify.ImageOptions{})
		return r, junk, err
	}},
}

func isLayout(t *testing.T, data []byte) bool {
	env, err := attest.ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	kind, err := env.PayloadKind()
	return err == nil && kind == "layout"
}

// honest is the owner's supply chain for image: bob builds, alice pushes.
func (c *tmChain) honest(image ocispec.Descriptor) []usDoc {
	return []usDoc{
		{data: c.buildLink("bob", "tar"), who: "bob", step: "build"},
		{data: c.pushLink("alice", "tar", image), who: "alice", step: "push"},
	}
}

// junkLink is who's link of step, recording nothing in particular; cmd
// tells junk links apart.
func (c *tmChain) junkLink(step, who string, cmd ...string) usDoc {
	return usDoc{data: c.link(step, who, nil, map[string]attest.HashObj{"evil": sha("evil")}, cmd...), who: who, step: step, junk: true}
}

// sublayout is who's sublayout with one step, "compile", performed by
// carol and producing app.tar from tar, and carol's link of it.
func (c *tmChain) sublayout(step, who, tar string, extra ...usDoc) usDoc {
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{c.keyID("carol"): c.keys["carol"].Key()}}
	l.Steps = []attest.Step{{Name: "compile", Threshold: 1, PubKeys: []string{c.keyID("carol")}, ExpectedProducts: rules(c.t, "CREATE app.tar", "DISALLOW *")}}
	sub := append([]usDoc{{data: c.link("compile", "carol", nil, map[string]attest.HashObj{"app.tar": sha(tar)}), who: "carol", step: "compile"}}, extra...)
	return usDoc{data: c.signLayout(l, 0, c.keys[who]), who: who, step: step, sub: sub}
}

func TestEvidenceForUnknownStepsIsNotUsed(t *testing.T) {
	for _, tc := range []struct {
		name string
		docs func(c *tmChain, image ocispec.Descriptor) []usDoc
		// want must each appear in the report.
		want []string
		// check looks further at the report.
		check func(t *testing.T, r *verify.Report)
	}{
		{"a self-signed link of a made-up step", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			return append(c.honest(image), c.junkLink("deploy", "mallory"))
		}, []string{`of step "deploy" not used: no step of this name in the layout`}, nil},
		{"a functionary's link of a made-up step", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			return append(c.honest(image), c.junkLink("deploy", "bob"))
		}, []string{`of step "deploy" not used: no step of this name in the layout`}, nil},
		{"a link with control characters in its step name", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			return append(c.honest(image), c.junkLink("x\x1b[2Jy", "mallory"))
		}, []string{`not used: no step of this name in the layout`}, func(t *testing.T, r *verify.Report) {
			if text := reportText(r); strings.Contains(text, "\x1b") {
				t.Errorf("the report prints an escape:\n%q", text)
			}
		}},
		{"100 self-signed links of made-up steps", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			docs := c.honest(image)
			for i := range 100 {
				docs = append(docs, c.junkLink(fmt.Sprintf("junk%03d", i), "mallory"))
			}
			return docs
		}, []string{"and 80 more links or sublayouts for steps the layout does not name, not used"}, func(t *testing.T, r *verify.Report) {
			if n := len(r.Warnings); n != 21 {
				t.Errorf("%d warnings, want 20 listed and one line counting the rest:\n%s", n, strings.Join(r.Warnings, "\n"))
			}
		}},
		{"links of a real step signed by a non-functionary", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			docs := c.honest(image)
			for i := range 10 {
				j := c.junkLink("build", "mallory", fmt.Sprint(i))
				j.keyid8 = fmt.Sprintf("%08x", i)
				docs = append(docs, j)
			}
			return docs
		}, []string{"not signed by a functionary of step \"build\"", "claim keys " + "MALLORY"}, func(t *testing.T, r *verify.Report) {
			if b := stepOf(t, r, "build"); len(b.Used) != 1 || len(b.Rejected) != 10 {
				t.Errorf("build: used %s; rejected %s", sources(b.Used), sources(b.Rejected))
			}
		}},
		{"a self-signed sublayout for a made-up step", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			sub := c.sublayout("deploy", "mallory", "evil")
			sub.junk = true
			return append(c.honest(image), sub)
		}, []string{`sublayout `, `of step "deploy" not used: no step of this name in the layout`}, nil},
		{"a sublayout's links of steps the sublayout does not name", func(c *tmChain, image ocispec.Descriptor) []usDoc {
			return []usDoc{c.sublayout("build", "bob", "tar", c.junkLink("deploy", "mallory"), c.junkLink("compile2", "carol")),
				{data: c.pushLink("alice", "tar", image), who: "alice", step: "push"}}
		}, []string{`    warning: link `, `of step "deploy" not used`, `of step "compile2" not used`}, func(t *testing.T, r *verify.Report) {
			b := stepOf(t, r, "build")
			if b.Sublayout == nil || !b.Sublayout.Verified || len(b.Sublayout.Warnings) != 2 || len(r.Warnings) != 0 {
				t.Errorf("the sublayout's report does not list its two links not used:\n%s", reportText(r))
			}
		}},
	} {
		for _, m := range usMedia {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				c := newTMChain(t)
				r, junk, err := m.run(t, c, c.signLayout(c.layout(), 1), func(image ocispec.Descriptor) []usDoc { return tc.docs(c, image) })
				wantPass(t, r, err)
				text := reportText(r)
				for _, w := range tc.want {
					w = strings.ReplaceAll(w, "MALLORY", short8(c.keyID("mallory")))
					if !strings.Contains(text, w) {
						t.Errorf("the report does not say %q:\n%s", w, text)
					}
				}
				// Junk is listed one by one up to 20; which 20 is the
				// order evidence is found in.
				named := 0
				for _, j := range junk {
					if strings.Contains(text, j) || strings.Contains(text, strings.Trim(strconv.Quote(j), `"`)) {
						named++
					}
				}
				if want := min(len(junk), 20); named != want {
					t.Errorf("the report names %d of the %d documents not used, want %d:\n%s", named, len(junk), want, text)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			})
		}
	}
}

// With junk of every kind present, every other rule still fails closed.
func TestUnknownStepJunkLoosensNoRule(t *testing.T) {
	junk := func(c *tmChain) []usDoc {
		sub := c.sublayout("deploy", "mallory", "evil")
		sub.junk = true
		// Junk claiming the real steps' names, and of made-up ones.
		return []usDoc{c.junkLink("deploy", "mallory"), c.junkLink("deploy", "bob"), sub,
			c.junkLink("build", "mallory"), c.junkLink("push", "mallory")}
	}
	tampered := func(t *testing.T, data []byte) []byte {
		env, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		env.Payload = []byte(strings.Replace(string(env.Payload), `"app.tar"`, `"app.taz"`, 1))
		out, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		layout func(c *tmChain) attest.Layout
		sign   func(c *tmChain, l attest.Layout) []byte
		docs   func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc
		want   []string
	}{
		{"no link of a step", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			return []usDoc{{data: c.pushLink("alice", "tar", image), who: "alice", step: "push"}}
		}, []string{`step "build"`, "not counted", "not signed by a functionary"}},
		{"threshold of two, one functionary", func(c *tmChain) attest.Layout {
			l := c.layout("bob", "carol")
			l.Steps[0].Threshold = 2
			return l
		}, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			return c.honest(image)
		}, []string{`step "build"`, "2 distinct authorised functionaries", "found 1"}},
		{"expired layout", func(c *tmChain) attest.Layout {
			l := c.layout()
			l.Expires = time.Now().Add(-time.Minute).UTC().Format(attest.TimeFormat)
			return l
		}, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc { return c.honest(image) }, []string{"expired"}},
		{"layout not signed by the owner", nil, func(c *tmChain, l attest.Layout) []byte {
			return c.signLayout(l, 1, c.keys["mallory"])
		}, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc { return c.honest(image) }, []string{"no signature by key " + "OWNER"}},
		{"link signed over other bytes", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			docs := c.honest(image)
			docs[0].data = tampered(t, docs[0].data)
			return docs
		}, []string{`step "build"`, "does not verify"}},
		{"artifact rule", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			docs := c.honest(image)
			docs[0].data = c.link("build", "bob", nil, map[string]attest.HashObj{"app.tar": sha("tar"), "backdoor": sha("x")})
			return docs
		}, []string{`step "build"`, `"backdoor"`}},
		{"image binding", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			docs := c.honest(image)
			docs[1].data = c.pushLink("alice", "tar", ocispec.Descriptor{Digest: digest.FromString("another image")})
			return docs
		}, []string{`step "push"`, attest.ImageArtifact, "not " + "sha256:"}},
		{"a sublayout recording other artifacts", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			return []usDoc{c.sublayout("build", "bob", "other tar"), {data: c.pushLink("alice", "tar", image), who: "alice", step: "push"}}
		}, []string{`step "push"`, `"app.tar"`}},
		{"a sublayout's step without a link", nil, nil, func(t *testing.T, c *tmChain, image ocispec.Descriptor) []usDoc {
			sub := c.sublayout("build", "bob", "tar", c.junkLink("compile", "mallory"))
			sub.sub = sub.sub[1:]
			return []usDoc{sub, {data: c.pushLink("alice", "tar", image), who: "alice", step: "push"}}
		}, []string{`step "build"`, "sublayout does not verify", `step "compile"`}},
	} {
		for _, m := range usMedia {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				c := newTMChain(t)
				l := c.layout()
				if tc.layout != nil {
					l = tc.layout(c)
				}
				layout := c.signLayout(l, 1)
				if tc.sign != nil {
					layout = tc.sign(c, l)
				}
				r, _, err := m.run(t, c, layout, func(image ocispec.Descriptor) []usDoc {
					return append(tc.docs(t, c, image), junk(c)...)
				})
				if r == nil && err != nil && !verify.IsNotVerified(err) {
					t.Fatalf("not a verification failure: %v", err)
				}
				var want []string
				for _, w := range tc.want {
					want = append(want, strings.ReplaceAll(w, "OWNER", c.owner.Key().KeyID))
				}
				wantImageFail(t, r, err, want...)
			})
		}
	}
}

// A link's step is the one its signed content names, not its file name,
// which nothing signs. The references take the step from the file name;
// referee stays stricter: a link of one step never counts for another.
// The report lists the link under the step its file name says, with why.
func TestLinkFileNameDoesNotChooseItsStep(t *testing.T) {
	c := newTMChain(t)
	image := ocispec.Descriptor{Digest: digest.FromString("the image")}
	layout := c.signLayout(c.layout(), 1)
	for _, tc := range []struct {
		name string
		docs []usDoc
		pass bool
		want []string
	}{
		// bob's link of a made-up step, in the file of his build link.
		{"the only link of a step is signed for a made-up step", []usDoc{
			{data: c.link("deploy", "bob", nil, map[string]attest.HashObj{"app.tar": sha("tar")}), who: "bob", step: "build"},
			{data: c.pushLink("alice", "tar", image), who: "alice", step: "push"},
		}, false, []string{`step "build"`, "not counted", `signed as a link of step "deploy", which the layout does not have, not of "build"`}},
		{"beside the step's own link", []usDoc{
			{data: c.link("deploy", "bob", nil, nil), who: "bob", step: "build"},
			{data: c.buildLink("bob", "tar"), who: "bob", step: "build2"},
			{data: c.pushLink("alice", "tar", image), who: "alice", step: "push"},
		}, true, []string{"step build: ok", "not used", `signed as a link of step "deploy", which the layout does not have, not of "build"`}},
		// alice's push link filed as a build link counts for push only.
		{"a link of another step of the layout", []usDoc{
			{data: c.pushLink("alice", "tar", image), who: "alice", step: "build"},
		}, false, []string{`step "build"`, "no link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := usMedia[0].run(t, c, layout, func(ocispec.Descriptor) []usDoc { return tc.docs })
			if tc.pass {
				wantPass(t, r, err)
			} else if !verify.IsNotVerified(err) {
				t.Fatalf("want a verification failure, got %v\n%s", err, reportText(r))
			}
			text := reportText(r)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("the report does not say %q:\n%s", w, text)
				}
			}
		})
	}
}

// A link named like one of the layout's inspections is not evidence: the
// verifier makes an inspection's link by running it. The report says so.
func TestLinkOfAnInspectionIsNotUsed(t *testing.T) {
	c := twoSteps(t)
	c.layout.Inspect = []attest.Inspection{{Name: "check", Run: []string{"true"}, ExpectedMaterials: rules(t, "MATCH app WITH PRODUCTS FROM build", "DISALLOW *")}}
	src := arts{"src/main.go": "package main"}
	forged := c.link("check", "bob", arts{"app": "tampered"}, nil)
	links := []verify.Evidence{c.link("checkout", "alice", nil, src), c.link("build", "bob", src, arts{"app": "b"}), forged}
	for _, tc := range []struct {
		disk arts
		pass bool
	}{{arts{"app": "b"}, true}, {arts{"app": "tampered"}, false}} {
		r, err := verify.Verify(context.Background(), c.layoutEvidence(), links, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Inspector: diskInspector(tc.disk)})
		if tc.pass {
			wantPass(t, r, err)
		} else {
			wantFail(t, r, err, `inspection "check"`, `"app"`)
		}
		want := fmt.Sprintf(`link %s of step "check" not used: no step of this name in the layout ("check" is an inspection, whose link the verifier makes by running it)`, forged.Source)
		if len(r.Warnings) != 1 || r.Warnings[0] != want {
			t.Errorf("warnings %q, want %q", r.Warnings, want)
		}
	}
}
