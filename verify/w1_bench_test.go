package verify_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/verify"
)

// W1 is the monorepo workload of issue 13: five steps over files source
// files (clone, build, test, package, release), each step's materials the
// products of the one before, rules of all seven verbs, links in the
// Metablock form in-toto-golang writes (two-space indentation, "signed"
// first, fields in its struct's order). At 100,000 files it has 900,000
// artifact entries and about 107 MB of links.

// w1Step is one step of W1: the artifacts it records and its rules.
type w1Step struct {
	name                string
	materials, products map[string]string // path -> sha256 hex
	matRules, prodRules []string
}

func w1Digest(tag string, i int) string {
	return fmt.Sprintf("%056x%08x", len(tag)*1000003+int(tag[0]), i)
}

// w1Steps builds the artifact sets: clone creates src/, build deletes
// src/tmp/, modifies src/gen/ and creates build/, and the last three steps
// pass everything on (release requires one file).
func w1Steps(files int) []w1Step {
	src := make(map[string]string, files)
	built := make(map[string]string, files)
	for i := 0; i < files; i++ {
		dir := "lib"
		switch i % 10 {
		case 0:
			dir = "tmp"
		case 1:
			dir = "gen"
		}
		p := fmt.Sprintf("src/%s/pkg%03d/file%06d.go", dir, i%1000, i)
		src[p] = w1Digest("src", i)
		switch dir {
		case "tmp":
			built[fmt.Sprintf("build/obj%03d/file%06d.o", i%1000, i)] = w1Digest("build", i)
		case "gen":
			built[p] = w1Digest("gen", i)
		default:
			built[p] = src[p]
		}
	}
	steps := []w1Step{
		{name: "clone", materials: map[string]string{}, products: src,
			prodRules: []string{"CREATE src/*", "DISALLOW *"}},
		{name: "build", materials: src, products: built,
			matRules:  []string{"DELETE src/tmp/*", "MATCH src/* WITH PRODUCTS FROM clone", "DISALLOW *"},
			prodRules: []string{"MODIFY src/gen/*", "CREATE build/*", "MATCH src/* WITH PRODUCTS FROM clone", "DISALLOW *"}},
	}
	prev := "build"
	for _, name := range []string{"test", "package", "release"} {
		s := w1Step{name: name, materials: built, products: built,
			matRules:  []string{"MATCH * WITH PRODUCTS FROM " + prev, "DISALLOW *"},
			prodRules: []string{"MATCH * WITH MATERIALS FROM " + name, "ALLOW build/*", "DISALLOW *"}}
		if name == "release" {
			s.prodRules = []string{"REQUIRE build/obj000/file000000.o", "MATCH * WITH PRODUCTS FROM " + prev, "DISALLOW *"}
		}
		steps = append(steps, s)
		prev = name
	}
	return steps
}

// writeW1 writes root.layout and the links of W1 at files files to dir.
func writeW1(tb testing.TB, dir string, files int) {
	tb.Helper()
	writeW1Steps(tb, dir, w1Steps(files))
}

// writeW1Steps writes root.layout and the links of steps to dir.
func writeW1Steps(tb testing.TB, dir string, steps []w1Step) {
	tb.Helper()
	owner, fn := mustKeyType(tb, attest.KeyTypeRSA), mustKeyType(tb, attest.KeyTypeRSA)
	layout := attest.Layout{Expires: time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Format(attest.TimeFormat),
		Keys: map[string]*attest.Key{fn.Key().KeyID: fn.Key()}}
	for _, s := range steps {
		layout.Steps = append(layout.Steps, attest.Step{Name: s.name, Threshold: 1, PubKeys: []string{fn.Key().KeyID},
			ExpectedMaterials: rules(tb, s.matRules...), ExpectedProducts: rules(tb, s.prodRules...)})
		writeGolangLink(tb, filepath.Join(dir, attest.LinkFileName(s.name, fn.Key().KeyID)), s, fn)
	}
	env, err := attest.SignPayload(attest.FormMetablock, mustMarshal(tb, layout.Marshal), owner)
	if err != nil {
		tb.Fatal(err)
	}
	for name, data := range map[string][]byte{"root.layout": mustMarshal(tb, env.Marshal), "owner.pub": mustMarshal(tb, owner.Key().MarshalPublicPEM)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// writeGolangLink writes a link as in-toto-golang's Metablock.Dump does
// (json.MarshalIndent with two spaces) and signs its canonical form.
func writeGolangLink(tb testing.TB, file string, s w1Step, fn *attest.Signer) {
	tb.Helper()
	type link struct {
		Type        string                       `json:"_type"`
		Name        string                       `json:"name"`
		Materials   map[string]map[string]string `json:"materials"`
		Products    map[string]map[string]string `json:"products"`
		ByProducts  map[string]any               `json:"byproducts"`
		Command     []string                     `json:"command"`
		Environment map[string]any               `json:"environment"`
	}
	wrap := func(m map[string]string) map[string]map[string]string {
		out := make(map[string]map[string]string, len(m))
		for p, d := range m {
			out[p] = map[string]string{"sha256": d}
		}
		return out
	}
	l := link{Type: "link", Name: s.name, Materials: wrap(s.materials), Products: wrap(s.products),
		ByProducts: map[string]any{"return-value": 0, "stderr": "", "stdout": "built " + s.name + "\n"},
		Command:    []string{"make", s.name}, Environment: map[string]any{}}
	signed, err := json.Marshal(l)
	if err != nil {
		tb.Fatal(err)
	}
	canonical, err := attest.CanonicalJSON(signed)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := fn.Sign(canonical)
	if err != nil {
		tb.Fatal(err)
	}
	type signature struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	mb := struct {
		Signed     link        `json:"signed"`
		Signatures []signature `json:"signatures"`
	}{l, []signature{{fn.Key().KeyID, hex.EncodeToString(sig)}}}
	f, err := os.Create(file)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(mb); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func mustKeyType(tb testing.TB, typ string) *attest.Signer {
	tb.Helper()
	s, err := attest.GenerateKey(typ)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// w1Dir returns a directory holding W1 at files files: under
// $REFEREE_W1_DIR when set, where it is kept between runs (so that the
// peak RSS the benchmark reports is verification's, not generation's:
// run it once to generate), else in a temporary directory.
func w1Dir(tb testing.TB, files int) string {
	tb.Helper()
	base := os.Getenv("REFEREE_W1_DIR")
	if base == "" {
		dir := tb.TempDir()
		writeW1(tb, dir, files)
		return dir
	}
	dir := filepath.Join(base, strconv.Itoa(files))
	if _, err := os.Stat(filepath.Join(dir, "root.layout")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	writeW1(tb, dir, files)
	return dir
}

// TestW1FailureExplained tampers with one file between two steps of W1
// (2,000 files, read as examined) and checks that the report says where
// and why, as for small links.
func TestW1FailureExplained(t *testing.T) {
	steps := w1Steps(2000)
	const tampered = "build/obj120/file001120.o"
	test := map[string]string{}
	for p, d := range steps[2].materials {
		test[p] = d
	}
	test[tampered] = w1Digest("evil", 1)
	steps[2].materials = test
	dir := t.TempDir()
	writeW1Steps(t, dir, steps)
	r, err := verifyFiles(t, dir, "root.layout", "owner.pub", verify.OpenLinkDir, time.Time{})
	wantFail(t, r, err, `step "test"`, `rule "DISALLOW *"`, `material "`+tampered+`" is disallowed`,
		`not consumed: "MATCH * WITH PRODUCTS FROM build": its hash sha256:`, `differs from sha256:`)
	if len(r.Failures) != 1 {
		t.Fatalf("%d failures, want 1:\n%s", len(r.Failures), reportText(r))
	}
}

// BenchmarkVerifyW1 reads W1's layout and link directory from disk and
// verifies it, as `referee verify --layout … --link-dir …` does, at 10,000
// and 100,000 files (90,000 and 900,000 artifact entries): the ratio of
// the two is the engine's linearity. The links are read all first
// (load=all, LoadLinkDir) or each as it is examined (load=open,
// OpenLinkDir). It reports peak RSS, which counts verification alone when
// $REFEREE_W1_DIR already holds the workload and one sub-benchmark runs
// in the process (-bench 'VerifyW1/load=open/files=100000').
func BenchmarkVerifyW1(b *testing.B) {
	for _, loader := range []struct {
		name string
		load func(string) ([]verify.Evidence, error)
	}{{"all", verify.LoadLinkDir}, {"open", verify.OpenLinkDir}} {
		for _, files := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("load=%s/files=%d", loader.name, files), func(b *testing.B) {
				dir := w1Dir(b, files)
				key, err := attest.LoadPublicKey(filepath.Join(dir, "owner.pub"))
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					env, err := attest.ReadEnvelopeFile(filepath.Join(dir, "root.layout"), attest.DefaultMaxFileSize)
					if err != nil {
						b.Fatal(err)
					}
					links, err := loader.load(dir)
					if err != nil {
						b.Fatal(err)
					}
					r, err := verify.Verify(context.Background(), verify.Evidence{Source: "root.layout", Envelope: env}, links,
						verify.Options{LayoutKeys: []*attest.Key{key}})
					if err != nil || !r.Verified {
						b.Fatalf("%v\n%s", err, reportText(r))
					}
				}
				b.ReportMetric(float64(files*9*b.N)/b.Elapsed().Seconds(), "entries/s")
				if n, err := testenv.PeakRSS(); err == nil {
					b.ReportMetric(float64(n)/(1<<20), "peak-RSS-MiB")
				}
			})
		}
	}
}
