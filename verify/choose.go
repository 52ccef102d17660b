package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/workers"
)

// group is a set of candidate links of one step that record the same
// artifacts; together they count their distinct signers.
type group struct {
	members []*candidate
	keys    map[string]bool
	link    *attest.CompactLink
}

// eligibleGroups groups the accepted candidates of a step by the artifacts
// they record and keeps the groups whose distinct signers reach the
// threshold, largest first.
func eligibleGroups(s attest.Step, cands []*candidate) []*group {
	byArtifacts := map[string]*group{}
	var order []string
	accepted := 0
	for _, c := range cands {
		if c.reject == "" {
			accepted++
		}
	}
	for _, c := range cands {
		if c.reject != "" {
			continue
		}
		fp := "" // one link is one group, whatever it records
		if accepted > 1 {
			fp = compactFingerprint(c.link)
		}
		g := byArtifacts[fp]
		if g == nil {
			g = &group{keys: map[string]bool{}, link: c.link}
			byArtifacts[fp] = g
			order = append(order, fp)
		}
		g.members = append(g.members, c)
		for _, k := range c.keyFPs {
			g.keys[k] = true
		}
	}
	var out []*group
	for _, fp := range order {
		if g := byArtifacts[fp]; len(g.keys) >= s.Threshold {
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].keys) > len(out[j].keys) })
	return out
}

// artifactFingerprint identifies what a link records: its materials and
// products, paths and hashes.
func artifactFingerprint(l *attest.Link) string {
	return compactFingerprint(l.Compact())
}

// compactFingerprint is artifactFingerprint of the compact form.
func compactFingerprint(l *attest.CompactLink) string {
	h := sha256.New()
	write := func(s string) {
		// Length-prefixed, so no two different sets encode the same.
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, set := range []*attest.Artifacts{l.Materials, l.Products} {
		write(strconv.Itoa(set.Len()))
		for i := range set.Len() {
			write(set.Path(i))
			hs := set.Hashes(i)
			write(strconv.Itoa(len(hs)))
			for _, a := range sortedKeys(hs) {
				write(a)
				write(hs[a])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func thresholdFailure(s attest.Step, cands []*candidate) Failure {
	accepted := map[string]bool{}
	for _, c := range cands {
		if c.reject == "" {
			for _, k := range c.keyFPs {
				accepted[k] = true
			}
		}
	}
	reason := fmt.Sprintf("needs links signed by %d distinct authorised functionaries recording the same artifacts; found %d", s.Threshold, len(accepted))
	if len(cands) == 0 {
		reason = fmt.Sprintf("no link for this step (needs %d, signed by any of %s)", s.Threshold, shortList(s.PubKeys))
	} else {
		for _, c := range cands {
			if c.reject != "" {
				return Failure{Step: s.Name, Source: c.ev.Source, Reason: reason + "; " + c.ev.Source + " was not counted: " + c.reject}
			}
		}
	}
	return Failure{Step: s.Name, Reason: reason}
}

// choice is one selection of a link group per step.
type choice struct {
	groups map[string]*group
	links  map[string]*attest.CompactLink
}

// chooseAndApply tries the combinations of eligible link groups (largest
// first, bounded by maxCombinations) and returns the first under which
// every rule holds, or else the first combination with its failures.
func chooseAndApply(ctx context.Context, layout *attest.Layout, groups map[string][]*group, o Options, depth int) (choice, map[string][]RuleResult, []Failure, []StepReport) {
	idx := make([]int, len(layout.Steps))
	ins := newInspections(layout, o)
	var first struct {
		c           choice
		rules       map[string][]RuleResult
		fails       []Failure
		inspections []StepReport
	}
	for n := 0; n < maxCombinations; n++ {
		c := choice{groups: map[string]*group{}, links: map[string]*attest.CompactLink{}}
		for i, s := range layout.Steps {
			g := groups[s.Name][idx[i]]
			c.groups[s.Name], c.links[s.Name] = g, g.link
		}
		// Inspections see the artifacts of these links; each runs once
		// for each distinct set of them (a command on the verifier's
		// disk, given none, once).
		inspections, inspected, inspectFailures := ins.run(ctx, fullLinks(layout, c.links))
		for name, l := range inspected {
			c.links[name] = l.Compact()
		}
		rules, fails := applyAll(layout, c.links)
		if depth == 0 {
			fails = append(fails, checkBinding(layout, c.links, o.ImageDigest)...)
		}
		for _, sr := range inspections {
			rules[sr.Name] = nil
		}
		fails = append(inspectFailures, fails...)
		if n == 0 {
			first.c, first.rules, first.fails, first.inspections = c, rules, fails, inspections
		}
		if len(fails) == 0 {
			attachInspectionRules(inspections, rules)
			return c, rules, nil, inspections
		}
		if !advance(idx, layout, groups) {
			break
		}
	}
	attachInspectionRules(first.inspections, first.rules)
	return first.c, first.rules, first.fails, first.inspections
}

// fullLinks gives inspections the links in the form they read, made only
// for a layout that has inspections.
func fullLinks(layout *attest.Layout, links map[string]*attest.CompactLink) map[string]*attest.Link {
	if len(layout.Inspect) == 0 {
		return nil
	}
	out := make(map[string]*attest.Link, len(links))
	for name, l := range links {
		out[name] = &attest.Link{Type: "link", Name: l.Name, Command: l.Command, Materials: l.Materials.Map(), Products: l.Products.Map()}
	}
	return out
}

// checkBinding requires, when an image digest is given, that the layout
// binds its evidence to an image and that the binding steps' links record
// exactly this image.
func checkBinding(layout *attest.Layout, links map[string]*attest.CompactLink, image string) []Failure {
	if image == "" {
		return nil
	}
	steps := layout.BindingSteps()
	if len(steps) == 0 {
		return []Failure{{Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the layout binds no step to the image (no step's expected_products names %q), so links copied from another image would verify this one; refusing", attest.ImageArtifact)}}
	}
	alg, hexDigest, ok := strings.Cut(image, ":")
	var fails []Failure
	for _, name := range steps {
		products := links[name].Products
		var got attest.HashObj
		i := products.Find(attest.ImageArtifact)
		recorded := i >= 0
		if recorded {
			got = products.Hashes(i)
		}
		switch {
		case !ok || alg != "sha256":
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("image digest %q is not a sha256 digest", image)})
		case !recorded:
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the step's link records no image, so it is not bound to %s", image)})
		case !sameHashes(got, attest.HashObj{"sha256": hexDigest}):
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the step's link is about image %s, not %s (evidence copied from another image?)", hashSummary(got), image)})
		}
	}
	return fails
}

// advance moves idx to the next combination, odometer-style.
func advance(idx []int, layout *attest.Layout, groups map[string][]*group) bool {
	for i := range idx {
		idx[i]++
		if idx[i] < len(groups[layout.Steps[i].Name]) {
			return true
		}
		idx[i] = 0
	}
	return false
}

// applyAll evaluates every step's and inspection's rules against links.
func applyAll(layout *attest.Layout, links map[string]*attest.CompactLink) (map[string][]RuleResult, []Failure) {
	type check struct {
		key, name           string
		materials, products [][]string
		// what applying them gave, for each set
		results [2][]RuleResult
		fails   []Failure
	}
	var checks []check
	for _, s := range layout.Steps {
		checks = append(checks, check{key: s.Name, name: s.Name, materials: s.ExpectedMaterials, products: s.ExpectedProducts})
	}
	for _, in := range layout.Inspect {
		if links[in.Name] != nil {
			checks = append(checks, check{key: "inspection:" + in.Name, name: in.Name, materials: in.ExpectedMaterials, products: in.ExpectedProducts})
		}
	}
	// Each step's rules read its own link and the chosen links, which
	// nothing changes now: the steps are applied on every core (a
	// monorepo's five steps of 180,000 artifacts each took 80 ms on one),
	// and their results assembled in the layout's order.
	globs := &globCache{m: map[string]glob{}}
	workers.Each(runtime.GOMAXPROCS(0), len(checks), func(i int) {
		c := &checks[i]
		env := &ruleEnv{link: links[c.name], chosen: links, globs: globs}
		for k, set := range []struct {
			name  string
			rules [][]string
		}{{"materials", c.materials}, {"products", c.products}} {
			rr, f := env.applyRules(c.name, set.name, set.rules)
			c.results[k] = rr
			if f != nil {
				if c.key != c.name {
					f.Inspection, f.Step = f.Step, ""
				}
				c.fails = append(c.fails, *f)
			}
		}
	})
	rules := map[string][]RuleResult{}
	var fails []Failure
	for _, c := range checks {
		for _, rr := range c.results {
			rules[c.key] = append(rules[c.key], rr...)
		}
		fails = append(fails, c.fails...)
	}
	return rules, fails
}
