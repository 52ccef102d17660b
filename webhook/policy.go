// Package webhook is referee's Kubernetes admission webhook: a policy
// file saying which keys an image must verify with, the images an
// AdmissionReview asks about, and the decisions (verified by digest,
// cached, fail closed) that answer it.
//
// The AdmissionReview v1 protocol is
// https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request.
package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/referee-dev/referee/attest"
)

// maxPolicySize bounds a policy file, against alias bombs and the like.
const maxPolicySize = 1 << 20

// Policy is a parsed policy file:
//
//	policies:                       # first match wins
//	  - name: shop
//	    images: ["registry.example.com/shop/**"]   # globs on the repository
//	    namespaces: [shop, shop-*]                 # optional: any namespace
//	    layoutKeys: [owner.pub]                    # full verification (and/or:)
//	    vsaKeys: [promoter.pub]                    # accept a promoter's summary
//	    vsaMaxAge: 720h                            # optional: of at most that age
//	    minLayoutVersion: 3                        # optional: rollback floor
//	    requireDigest: true                        # optional: refuse tags
//	    staleIfError: 10m                          # optional: outage grace
//	unmatched: deny                 # or allow; default deny
//	exclude: {namespaces: [referee-system]}
//
// Key files are relative to the policy file. Patterns are globs (see
// glob: `*` within a segment, `**` across `/`); images are matched on the
// repository as the reference normalises it ("nginx" is
// "index.docker.io/library/nginx"; a pattern may say "docker.io/…").
type Policy struct {
	// Rules are the policies in file order; the first that matches an
	// image decides it.
	Rules []*Rule
	// AllowUnmatched admits images no rule matches (unmatched: allow).
	AllowUnmatched bool
	// ExcludeNamespaces are globs of namespaces never checked.
	ExcludeNamespaces []string
	// Generation identifies this policy: a hash of the file's content and
	// of the keyids of every key it loaded. Cached decisions carry it, so
	// that a changed policy or a replaced key file is never answered from
	// decisions made under another.
	Generation string

	exclude []glob
}

// Rule is one entry of the policy file's policies.
type Rule struct {
	Name       string
	Images     []string
	Namespaces []string
	// LayoutKeys are the layout owner's keys (full verification);
	// VSAKeys a promoter's keys (its verification summary is accepted).
	LayoutKeys, VSAKeys []*attest.Key
	// VSAMaxAge refuses summaries verified longer ago; zero: any age.
	VSAMaxAge time.Duration
	// MinLayoutVersion refuses layouts of a lower version (rollback).
	MinLayoutVersion int
	// RequireDigest refuses images named by tag alone.
	RequireDigest bool
	// StaleIfError, when positive, admits a digest verified within that
	// long ago when its registry cannot be reached now.
	StaleIfError time.Duration
	// Line is the line of the policy file the rule starts at.
	Line int

	images, namespaces []glob
}

// Match returns the first rule whose images match repository (HOST/PATH)
// and whose namespaces, if it has any, match namespace.
func (p *Policy) Match(namespace, repository string) (*Rule, bool) {
	for _, r := range p.Rules {
		if r.matches(namespace, repository) {
			return r, true
		}
	}
	return nil, false
}

// Excluded reports whether namespace is one the policy never checks.
func (p *Policy) Excluded(namespace string) bool {
	for _, g := range p.exclude {
		if g.match(namespace) {
			return true
		}
	}
	return false
}

func (r *Rule) matches(namespace, repository string) bool {
	if len(r.namespaces) > 0 && !slices.ContainsFunc(r.namespaces, func(g glob) bool { return g.match(namespace) }) {
		return false
	}
	return slices.ContainsFunc(r.images, func(g glob) bool { return g.match(repository) })
}

// KeyIDs are the keyids of the rule's keys, layout keys then VSA keys.
func (r *Rule) KeyIDs() []string {
	var ids []string
	for _, k := range r.LayoutKeys {
		ids = append(ids, "layout:"+k.KeyID)
	}
	for _, k := range r.VSAKeys {
		ids = append(ids, "vsa:"+k.KeyID)
	}
	return ids
}

// The file's shape. Field names are the YAML's; checkNode walks them.
type policyFile struct {
	Policies  []ruleFile  `yaml:"policies"`
	Unmatched string      `yaml:"unmatched"`
	Exclude   excludeFile `yaml:"exclude"`
}

type ruleFile struct {
	Name             string   `yaml:"name"`
	Images           []string `yaml:"images"`
	Namespaces       []string `yaml:"namespaces"`
	LayoutKeys       []string `yaml:"layoutKeys"`
	VSAKeys          []string `yaml:"vsaKeys"`
	VSAMaxAge        string   `yaml:"vsaMaxAge"`
	MinLayoutVersion int      `yaml:"minLayoutVersion"`
	RequireDigest    bool     `yaml:"requireDigest"`
	StaleIfError     string   `yaml:"staleIfError"`
}

type excludeFile struct {
	Namespaces []string `yaml:"namespaces"`
}

// LoadPolicy reads the policy file at path; key files are relative to its
// directory. Errors are one line: "PATH: line N: what is wrong".
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := ParsePolicy(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy reads a policy file's content; base is the directory key
// files are relative to. Unknown fields, values of the wrong kind, bad
// patterns, unreadable keys, rules without a key and duplicate names are
// errors, one line starting with the line they are about ("line 7:
// unknown field "layoutkeys" in policy "shop" (did you mean layoutKeys?)").
func ParsePolicy(data []byte, base string) (*Policy, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("policy is more than %d bytes", maxPolicySize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: a policy file is a mapping (policies, unmatched, exclude)", max(root.Line, 1))
	}
	if err := checkNode(root, policyFileShape, ""); err != nil {
		return nil, err
	}
	var f policyFile
	if err := root.Decode(&f); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := &Policy{ExcludeNamespaces: f.Exclude.Namespaces}
	switch f.Unmatched {
	case "", "deny":
	case "allow":
		p.AllowUnmatched = true
	default:
		return nil, fmt.Errorf("line %d: unmatched is deny or allow, not %q", lineOf(root, "unmatched"), f.Unmatched)
	}
	for _, ns := range f.Exclude.Namespaces {
		g, err := compileGlob(ns)
		if err != nil {
			return nil, fmt.Errorf("line %d: exclude namespaces: %w", lineOf(root, "exclude"), err)
		}
		p.exclude = append(p.exclude, g)
	}
	if len(f.Policies) == 0 && !p.AllowUnmatched {
		return nil, errors.New("no policies: every image would be denied (give policies, or unmatched: allow)")
	}
	h := sha256.New()
	h.Write(data)
	keys := map[string]*attest.Key{} // by path, loaded once
	ruleNodes := valueOf(root, "policies")
	names := map[string]int{}
	for i, rf := range f.Policies {
		line := ruleNodes.Content[i].Line
		r, err := buildRule(rf, line, base, keys)
		if err != nil {
			return nil, err
		}
		if prev, ok := names[r.Name]; ok {
			return nil, fmt.Errorf("line %d: policy %q is already named at line %d", line, r.Name, prev)
		}
		names[r.Name] = line
		for _, id := range r.KeyIDs() {
			fmt.Fprintf(h, "\x00%s\x00%s", r.Name, id)
		}
		p.Rules = append(p.Rules, r)
	}
	p.Generation = hex.EncodeToString(h.Sum(nil))[:16]
	return p, nil
}

func buildRule(rf ruleFile, line int, base string, keys map[string]*attest.Key) (*Rule, error) {
	r := &Rule{Name: rf.Name, Images: rf.Images, Namespaces: rf.Namespaces, MinLayoutVersion: rf.MinLayoutVersion, RequireDigest: rf.RequireDigest, Line: line}
	if r.Name == "" {
		return nil, fmt.Errorf("line %d: a policy needs a name", line)
	}
	where := fmt.Sprintf("line %d: policy %q", line, r.Name)
	if len(rf.Images) == 0 {
		return nil, fmt.Errorf("%s: images is missing (globs on the repository, e.g. registry.example.com/shop/**)", where)
	}
	for _, im := range rf.Images {
		g, err := compileGlob(normaliseRepoPattern(im))
		if err != nil {
			return nil, fmt.Errorf("%s: images: %w", where, err)
		}
		r.images = append(r.images, g)
	}
	for _, ns := range rf.Namespaces {
		g, err := compileGlob(ns)
		if err != nil {
			return nil, fmt.Errorf("%s: namespaces: %w", where, err)
		}
		r.namespaces = append(r.namespaces, g)
	}
	if len(rf.LayoutKeys) == 0 && len(rf.VSAKeys) == 0 {
		return nil, fmt.Errorf("%s: no layoutKeys or vsaKeys: nothing could verify its images", where)
	}
	if rf.MinLayoutVersion < 0 {
		return nil, fmt.Errorf("%s: minLayoutVersion %d is negative", where, rf.MinLayoutVersion)
	}
	if rf.MinLayoutVersion > 0 && len(rf.LayoutKeys) == 0 {
		return nil, fmt.Errorf("%s: minLayoutVersion needs layoutKeys (a summary does not say which layout version it verified against)", where)
	}
	if rf.StaleIfError != "" {
		d, err := time.ParseDuration(rf.StaleIfError)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: staleIfError %q is not a positive duration (e.g. 10m, 1h)", where, rf.StaleIfError)
		}
		r.StaleIfError = d
	}
	if rf.VSAMaxAge != "" {
		d, err := time.ParseDuration(rf.VSAMaxAge)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: vsaMaxAge %q is not a positive duration (e.g. 720h)", where, rf.VSAMaxAge)
		}
		if len(rf.VSAKeys) == 0 {
			return nil, fmt.Errorf("%s: vsaMaxAge needs vsaKeys", where)
		}
		r.VSAMaxAge = d
	}
	load := func(field string, files []string) ([]*attest.Key, error) {
		var out []*attest.Key
		for _, file := range files {
			path := file
			if !filepath.IsAbs(path) {
				path = filepath.Join(base, file)
			}
			k, ok := keys[path]
			if !ok {
				var err error
				if k, err = attest.LoadPublicKey(path); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", where, field, err)
				}
				keys[path] = k
			}
			out = append(out, k)
		}
		return out, nil
	}
	var err error
	if r.LayoutKeys, err = load("layoutKeys", rf.LayoutKeys); err != nil {
		return nil, err
	}
	if r.VSAKeys, err = load("vsaKeys", rf.VSAKeys); err != nil {
		return nil, err
	}
	return r, nil
}
