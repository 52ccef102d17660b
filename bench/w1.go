package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/referee-dev/referee/attest"
)

// W1 is the engine workload of issue 13: a layout of five steps whose
// rules use all seven verbs, over a tree of files in directories of 100,
// every link recorded by in-toto-golang (Metablock, ed25519). With
// 100,000 files it holds about 900,000 artifact entries (clone records
// every file once, the four later steps twice) in about 109 MB of links.
//
// Its directory (cached between runs, see cachedDir) holds root.layout
// (Metablock, signed by keys/owner), links/STEP.KEYID8.link, keys/ and
// w1.json (w1Stats).
type w1Stats struct {
	Files     int   `json:"files"`
	Entries   int   `json:"entries"`    // materials and products over all links
	LinkBytes int64 `json:"link_bytes"` // size of links/
}

// w1Step is one step of W1: who runs it, its command, what in-toto-golang
// records before (materials) and after (products) it, and the layout's
// rules for them.
type w1Step struct {
	name, signer        string
	cmd                 []string
	materials, products []string
	matRules, prodRules []string
}

// w1Steps are the steps over files files (a multiple of 100): format
// modifies the 100 files of src/d000, prune deletes the last directory,
// build and package create out/ and dist/.
func w1Steps(files int) []w1Step {
	last := fmt.Sprintf("src/d%03d", files/100-1)
	return []w1Step{
		{name: "clone", signer: "alice", cmd: []string{"true"},
			products:  []string{"src"},
			prodRules: []string{"CREATE src/*", "DISALLOW *"}},
		{name: "format", signer: "bob", cmd: []string{"sh", "-c", `for f in src/d000/*; do echo '// formatted' >> "$f"; done`},
			materials: []string{"src"}, products: []string{"src"},
			matRules:  []string{"MATCH src/* WITH PRODUCTS FROM clone", "DISALLOW *"},
			prodRules: []string{"MODIFY src/d000/*", "MATCH src/* WITH PRODUCTS FROM clone", "DISALLOW *"}},
		{name: "prune", signer: "alice", cmd: []string{"rm", "-r", last},
			materials: []string{"src"}, products: []string{"src"},
			matRules:  []string{"DELETE " + last + "/*", "MATCH src/* WITH PRODUCTS FROM format", "DISALLOW *"},
			prodRules: []string{"MATCH src/* WITH PRODUCTS FROM format", "DISALLOW *"}},
		{name: "build", signer: "bob", cmd: []string{"sh", "-c", "mkdir -p out && cat src/d000/* > out/app.bin && echo v1 > out/VERSION"},
			materials: []string{"src"}, products: []string{"src", "out"},
			matRules:  []string{"MATCH src/* WITH PRODUCTS FROM prune", "DISALLOW *"},
			prodRules: []string{"REQUIRE out/app.bin", "CREATE out/*", "MATCH src/* WITH PRODUCTS FROM prune", "DISALLOW *"}},
		{name: "package", signer: "alice", cmd: []string{"sh", "-c", "mkdir -p dist && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf dist/app.tar out"},
			materials: []string{"src", "out"}, products: []string{"src", "out", "dist"},
			matRules:  []string{"MATCH * IN out WITH PRODUCTS IN out FROM build", "MATCH src/* WITH PRODUCTS FROM build", "DISALLOW *"},
			prodRules: []string{"CREATE dist/app.tar", "MATCH out/* WITH PRODUCTS FROM build", "ALLOW src/*", "DISALLOW *"}},
	}
}

// w1File is the content of file i of the tree: a few lines of text, fixed
// by i.
func w1File(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	var b strings.Builder
	for l, n := 0, 4+r.IntN(12); l < n; l++ {
		fmt.Fprintf(&b, "line %d of file %d: %016x%016x\n", l, i, r.Uint64(), r.Uint64())
	}
	return []byte(b.String())
}

// makeW1 generates W1 with files files into dir: the tree (in dir/tree,
// removed at the end), keys, the layout, and the links, by running
// in-toto-golang for each step in the tree.
func makeW1(ctx context.Context, dir string, files int, inTotoGolang string, log func(string)) error {
	tree, keys, links := filepath.Join(dir, "tree"), filepath.Join(dir, "keys"), filepath.Join(dir, "links")
	for _, d := range []string{keys, links} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for i := 0; i < files; i++ {
		p := filepath.Join(tree, "src", fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, w1File(i), 0o644); err != nil {
			return err
		}
	}
	signers := map[string]*attest.Signer{}
	for _, name := range []string{"owner", "alice", "bob"} {
		s, err := benchKey(name)
		if err != nil {
			return err
		}
		if err := writeKeyFiles(keys, name, s); err != nil {
			return err
		}
		signers[name] = s
	}
	steps := w1Steps(files)
	if err := writeW1Layout(filepath.Join(dir, "root.layout"), steps, signers); err != nil {
		return err
	}
	for _, st := range steps {
		log(fmt.Sprintf("W1 %d files: in-toto-golang run -n %s", files, st.name))
		args := []string{"run", "-n", st.name, "-k", filepath.Join(keys, st.signer), "-d", links}
		for _, m := range st.materials {
			args = append(args, "-m", m)
		}
		for _, p := range st.products {
			args = append(args, "-p", p)
		}
		args = append(append(args, "--"), st.cmd...)
		cmd := exec.CommandContext(ctx, inTotoGolang, args...)
		cmd.Dir = tree
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("in-toto-golang run -n %s: %w\n%s", st.name, err, tail(string(out), 2000))
		}
	}
	if err := os.RemoveAll(tree); err != nil {
		return err
	}
	stats, err := countW1(links)
	if err != nil {
		return err
	}
	stats.Files = files
	data, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "w1.json"), data, 0o644)
}

// writeW1Layout writes the layout of steps, signed by the owner, as a
// Metablock (the only form all three verifiers read).
func writeW1Layout(path string, steps []w1Step, signers map[string]*attest.Signer) error {
	l := attest.Layout{
		Expires: "2036-01-01T00:00:00Z",
		Readme:  "referee bench W1 (issue 13)",
		Keys:    map[string]*attest.Key{},
	}
	for _, name := range []string{"alice", "bob"} {
		k := signers[name].Key()
		l.Keys[k.KeyID] = k
	}
	for _, st := range steps {
		mat, err := ruleTokens(st.matRules)
		if err != nil {
			return err
		}
		prod, err := ruleTokens(st.prodRules)
		if err != nil {
			return err
		}
		l.Steps = append(l.Steps, attest.Step{
			Name: st.name, Threshold: 1, PubKeys: []string{signers[st.signer].Key().KeyID},
			ExpectedCommand: st.cmd, ExpectedMaterials: mat, ExpectedProducts: prod,
		})
	}
	payload, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	env, err := attest.SignPayload(attest.FormMetablock, payload, signers["owner"])
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	data, err := env.Marshal()
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	return os.WriteFile(path, data, 0o644)
}

func ruleTokens(rules []string) ([][]string, error) {
	out := [][]string{}
	for _, s := range rules {
		r, err := attest.ParseRuleString(s)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", s, err)
		}
		out = append(out, r.Tokens())
	}
	return out, nil
}

// countW1 counts the artifact entries and bytes of the links in dir.
func countW1(dir string) (w1Stats, error) {
	var st w1Stats
	entries, err := os.ReadDir(dir)
	if err != nil {
		return st, err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return st, err
		}
		var mb struct {
			Signed struct {
				Materials map[string]json.RawMessage `json:"materials"`
				Products  map[string]json.RawMessage `json:"products"`
			} `json:"signed"`
		}
		if err := json.Unmarshal(data, &mb); err != nil {
			return st, fmt.Errorf("link %s: %w", e.Name(), err)
		}
		st.Entries += len(mb.Signed.Materials) + len(mb.Signed.Products)
		st.LinkBytes += int64(len(data))
	}
	return st, nil
}

// w1Contenders are the three verifiers of the W1 in dir.
func w1Contenders(dir, referee, inTotoGolang, inTotoVerify string) []contender {
	layout, links, keys := filepath.Join(dir, "root.layout"), filepath.Join(dir, "links"), filepath.Join(dir, "keys")
	cs := []contender{
		{name: "in-toto-golang", cmd: func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, inTotoGolang, "verify", "-l", layout, "-k", filepath.Join(keys, "owner.pub"), "-d", links)
		}},
	}
	if inTotoVerify != "" {
		cs = append(cs, contender{name: "in-toto Python", cmd: func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, inTotoVerify, "-l", layout, "-k", filepath.Join(keys, "owner.json.pub"), "-t", "ed25519", "--link-dir", links)
		}})
	}
	return append(cs, contender{name: "referee", cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, referee, "verify", "--quiet", "--layout", layout, "--layout-key", filepath.Join(keys, "owner.pub"), "--link-dir", links)
	}})
}
