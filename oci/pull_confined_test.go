package oci_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
)

// keep leaves a document's keyid as its signer's.
const keep = "KEEP"

// docSpec is one document pushed by someone with push access: pull checks
// no signature, so the step name, the sublayout's step annotation and the
// unsigned keyid of its first signature are anyone's.
type docSpec struct {
	kind  string // "link", "sublayout" or "root"
	step  string
	keyid string // keep, or what the first signature's keyid is replaced with
	sub   []docSpec
}

// confinedCase is one attempt to make pull write outside --out.
type confinedCase struct {
	name string
	docs []docSpec
	// setup prepares dir (which need not exist) and outside before the
	// pull; k8 is the signer's keyid prefix.
	setup func(t *testing.T, dir, outside, k8 string)
	// want are the files written besides the control link, relative to
	// dir, with K8 for the signer's keyid prefix.
	want []string
	// directOnly: the case cannot be pushed as it is (JSON replaces
	// invalid UTF-8).
	directOnly bool
}

func confinedCases() []confinedCase {
	link := func(step, keyid string) docSpec { return docSpec{kind: "link", step: step, keyid: keyid} }
	refused := func(name string, docs ...docSpec) confinedCase { return confinedCase{name: name, docs: docs} }
	var cases []confinedCase
	for _, step := range []string{"../../x", "../../../x", "..", ".", "a/b", "/abs", `a\b`, `..\..\x`, "x\x00y", "", strings.Repeat("a", 300),
		".hidden", "..x", "\x1b[2J", "x\u202egnp.exe", "tab\there", "a\u2028b", "a\u00a0b"} {
		cases = append(cases, refused(fmt.Sprintf("step %q", step), link(step, keep)))
	}
	cases = append(cases, confinedCase{name: "step not UTF-8", docs: []docSpec{link("a\xff", keep)}, directOnly: true})
	// Look-alikes of dots and slashes are plain names: written, inside dir.
	for _, step := range []string{"\u2024\u2024", "\u2025", "\uff0e\uff0e", "x\u2215..\u2215y", "x\uff0fy", "\u2216x", strings.Repeat("a", 200), "ok step"} {
		cases = append(cases, confinedCase{name: fmt.Sprintf("look-alike %q", step), docs: []docSpec{link(step, keep)}, want: []string{step + ".K8.link"}})
	}
	for _, keyid := range []string{"/../", "/../../../x", "..", "../../x1234567", "abc/../def0123", "", "0123456", "ABCDEF0123", "xyz01234", "0123456\x00", "\x1b[2J0123", "01234567/../../x"} {
		want := []string(nil)
		switch keyid {
		case "":
			// No keyid: in-toto's placeholder name, 00000000.
			want = []string{"kid.00000000.link"}
		case "01234567/../../x":
			// Only the first 8 characters name the file.
			want = []string{"kid.01234567.link"}
		}
		cases = append(cases, confinedCase{name: fmt.Sprintf("keyid %q", keyid), docs: []docSpec{link("kid", keyid)}, want: want})
	}
	compile := link("compile", keep)
	cases = append(cases,
		refused("sublayout step ../../x and its link", docSpec{kind: "sublayout", step: "../../x", keyid: keep, sub: []docSpec{compile}}),
		refused("sublayout step a/b and its link", docSpec{kind: "sublayout", step: "a/b", keyid: keep, sub: []docSpec{compile}}),
		refused("sublayout step .. and its link", docSpec{kind: "sublayout", step: "..", keyid: keep, sub: []docSpec{compile}}),
		refused("sublayout keyid /../ and its link", docSpec{kind: "sublayout", step: "build", keyid: "/../", sub: []docSpec{compile}}),
		refused("sublayout in a refused sublayout", docSpec{kind: "sublayout", step: "../x", keyid: keep, sub: []docSpec{{kind: "sublayout", step: "inner", keyid: keep, sub: []docSpec{compile}}}}),
		confinedCase{name: "sublayout link ../../x", docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{link("../../x", keep), link("inner/../../..", keep), compile}}},
			want: []string{"build.K8.link", "build.K8/compile.K8.link"}},
		confinedCase{name: "sublayout link keyid /../", docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{link("compile", "/../")}}},
			want: []string{"build.K8.link"}},
		confinedCase{name: "sublayout directory is a symlink out of dir",
			docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				symlink(t, outside, filepath.Join(dir, "build."+k8))
			},
			want: []string{"build.K8.link"}},
		confinedCase{name: "sublayout directory is a relative symlink out of dir",
			docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				rel, _ := filepath.Rel(dir, outside)
				symlink(t, rel, filepath.Join(dir, "build."+k8))
			},
			want: []string{"build.K8.link"}},
		confinedCase{name: "sublayout directory is a symlink inside dir",
			docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, filepath.Join(dir, "elsewhere"))
				symlink(t, "elsewhere", filepath.Join(dir, "build."+k8))
			},
			want: []string{"build.K8.link"}},
		confinedCase{name: "sublayout directory is a file",
			docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				writeFile(t, filepath.Join(dir, "build."+k8), "mine")
			},
			want: []string{"build.K8.link"}},
		confinedCase{name: "sublayout directory exists: reused",
			docs: []docSpec{{kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, filepath.Join(dir, "build."+k8))
				writeFile(t, filepath.Join(dir, "build."+k8, "compile."+k8+".link"), "old")
			},
			want: []string{"build.K8.link", "build.K8/compile.K8.link"}},
		confinedCase{name: "link file is a symlink to a file outside",
			docs: []docSpec{link("step", keep)},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				symlink(t, filepath.Join(outside, "keep"), filepath.Join(dir, "step."+k8+".link"))
			}},
		confinedCase{name: "link file is a symlink to a missing file outside",
			docs: []docSpec{link("step", keep)},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				symlink(t, filepath.Join(outside, "new"), filepath.Join(dir, "step."+k8+".link"))
			}},
		confinedCase{name: "link file is a hard link to a file outside: replaced, not written through",
			docs: []docSpec{link("step", keep)},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				if err := os.Link(filepath.Join(outside, "keep"), filepath.Join(dir, "step."+k8+".link")); err != nil {
					t.Skip("no hard links here:", err)
				}
			},
			want: []string{"step.K8.link"}},
		confinedCase{name: "link file is a directory",
			docs: []docSpec{link("step", keep)},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, filepath.Join(dir, "step."+k8+".link"))
			}},
		confinedCase{name: "root.layout is a symlink to a file outside",
			docs: []docSpec{{kind: "root", keyid: keep}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				mkdir(t, dir)
				symlink(t, filepath.Join(outside, "keep"), filepath.Join(dir, "root.layout"))
			}},
		confinedCase{name: "dir is a symlink: followed once, as the caller's choice",
			docs: []docSpec{link("step", keep), {kind: "sublayout", step: "build", keyid: keep, sub: []docSpec{compile}}},
			setup: func(t *testing.T, dir, outside, k8 string) {
				real := filepath.Join(filepath.Dir(dir), "real")
				mkdir(t, real)
				symlink(t, "real", dir)
			},
			want: []string{"step.K8.link", "build.K8.link", "build.K8/compile.K8.link"}},
		confinedCase{name: "the same name twice: the newer written, the older refused",
			docs: []docSpec{link("same", keep), link("same", keep)},
			want: []string{"same.K8.link"}},
	)
	return cases
}

// TestPullStaysInDir: whatever step names, keyids and files in dir a
// registry or a local user arranges, pull creates, replaces and follows
// nothing outside --out; what it refuses is reported with why, and the
// rest is still written. Each case runs with a bundle built by hand
// (WriteBundle alone) and pushed to an in-process registry (DiscoverAndGather
// then WriteBundle).
func TestPullStaysInDir(t *testing.T) {
	signer := key(t)
	k8 := signer.Key().KeyID[:8]
	for _, tc := range confinedCases() {
		for _, mode := range []string{"direct", "registry"} {
			if mode == "registry" && tc.directOnly {
				continue
			}
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				base := t.TempDir()
				dir := filepath.Join(base, "p", "q", "out")
				outside := filepath.Join(base, "outside")
				mkdir(t, filepath.Join(base, "p", "q"))
				mkdir(t, outside)
				writeFile(t, filepath.Join(outside, "keep"), "outside")
				if tc.setup != nil {
					tc.setup(t, dir, outside, k8)
				}
				// The control: a plain link, always written.
				docs := append([]docSpec{{kind: "link", step: "control", keyid: keep}}, tc.docs...)
				var b *oci.Bundle
				var byDigest map[string][]byte
				if mode == "direct" {
					b, byDigest = handBundle(t, signer, docs)
				} else {
					b, byDigest = pushedBundle(t, signer, docs)
				}
				resolved := dir
				if r, err := filepath.EvalSymlinks(dir); err == nil {
					resolved = r
				}
				before := snapshot(t, base, resolved)

				res, err := oci.WriteBundle(b, dir)
				if err != nil {
					t.Fatal(err)
				}

				if after := snapshot(t, base, resolved); !sameSnapshot(before, after) {
					t.Errorf("pull changed what is outside %s:\n%s", dir, diffSnapshot(before, after))
				}
				var got []string
				written := map[string]bool{}
				for _, f := range res.Files {
					rel, err := filepath.Rel(dir, f.Path)
					if err != nil || !filepath.IsLocal(rel) {
						t.Errorf("wrote %s, not inside %s", f.Path, dir)
						continue
					}
					got = append(got, filepath.ToSlash(rel))
					written[f.Referrer] = true
					if data, err := os.ReadFile(filepath.Join(resolved, rel)); err != nil || string(data) != string(byDigest[f.Referrer]) {
						t.Errorf("%s does not hold %s: %v", rel, f.Referrer, err)
					}
					if fi, err := os.Lstat(filepath.Join(resolved, rel)); err != nil || !fi.Mode().IsRegular() {
						t.Errorf("%s is not a regular file: %v", rel, err)
					}
				}
				want := []string{"control.K8.link"}
				want = append(want, tc.want...)
				for i := range want {
					want[i] = strings.ReplaceAll(want[i], "K8", k8)
				}
				sort.Strings(got)
				sort.Strings(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("wrote %q, want %q; skipped %+v", got, want, res.Skipped)
				}
				skipped := map[string]bool{}
				for _, s := range res.Skipped {
					skipped[s.Digest] = true
					if s.Reason == "" || !termsafe.Safe(s.Reason) || strings.ContainsAny(s.Reason, "\n\r") {
						t.Errorf("reason for %s is not one printable line: %q", s.Digest, s.Reason)
					}
				}
				// Nothing silently dropped: every document is written or
				// reported.
				for dg := range byDigest {
					if !written[dg] && !skipped[dg] {
						t.Errorf("%s was neither written nor reported", dg)
					}
				}
				// Nothing left behind: no temporary files.
				filepath.WalkDir(resolved, func(p string, d fs.DirEntry, err error) error {
					if err == nil && strings.Contains(d.Name(), ".tmp-") {
						t.Errorf("left %s behind", p)
					}
					return nil
				})
			})
		}
	}
}

// document signs spec's payload with signer and replaces the first
// signature's keyid as spec says.
func document(t *testing.T, signer *attest.Signer, spec docSpec) (*attest.Envelope, []byte) {
	t.Helper()
	var payload []byte
	switch spec.kind {
	case "link":
		// A command of its own, so that no two documents are one.
		payload = must((&attest.Link{Name: spec.step, Command: []string{"echo", fmt.Sprint(time.Now().UnixNano())}}).Marshal())
	default:
		l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Readme: fmt.Sprint(time.Now().UnixNano()), Keys: map[string]*attest.Key{}}
		payload = must(l.Marshal())
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
	if err != nil {
		t.Fatal(err)
	}
	if spec.keyid != keep {
		env.Signatures[0].KeyID = spec.keyid
	}
	return env, must(env.Marshal())
}

// handBundle is the bundle Gather would build from docs, names and all.
func handBundle(t *testing.T, signer *attest.Signer, docs []docSpec) (*oci.Bundle, map[string][]byte) {
	b := &oci.Bundle{}
	byDigest := map[string][]byte{}
	n := 0
	var build func(specs []docSpec) []*oci.Document
	build = func(specs []docSpec) []*oci.Document {
		var out []*oci.Document
		for _, spec := range specs {
			env, raw := document(t, signer, spec)
			n++
			dg := fmt.Sprintf("sha256:%x", sha256.Sum256(append(raw, byte(n))))
			byDigest[dg] = raw
			d := &oci.Document{Referrer: &oci.Node{Digest: dg}, Kind: "link", Step: spec.step, Envelope: env, Raw: raw,
				FileName: attest.LinkFileName(spec.step, env.Signatures[0].KeyID)}
			switch spec.kind {
			case "root":
				d.Kind, d.FileName = "layout", "root.layout"
				b.Layouts = append(b.Layouts, d)
				continue
			case "sublayout":
				d.Kind = "layout"
				d.Sub = build(spec.sub)
			}
			out = append(out, d)
		}
		return out
	}
	b.Links = build(docs)
	return b, byDigest
}

// pushedBundle attaches docs to an image in an in-process registry, as
// anyone with push access can (links named by their content, sublayouts
// by a step annotation), and reads them back as pull does.
func pushedBundle(t *testing.T, signer *attest.Signer, docs []docSpec) (*oci.Bundle, map[string][]byte) {
	ctx := context.Background()
	s := open(t, newRegistry(t, true)+"/app")
	image := pushImage(t, s, "app")
	byDigest := map[string][]byte{}
	minute := 0
	var attach func(subject ocispec.Descriptor, specs []docSpec)
	attach = func(subject ocispec.Descriptor, specs []docSpec) {
		for _, spec := range specs {
			env, raw := document(t, signer, spec)
			kind := "link"
			ann := map[string]string{}
			switch spec.kind {
			case "link":
				ann[oci.AnnotationStep] = spec.step
			case "sublayout":
				kind = "layout"
				ann[oci.AnnotationStep] = spec.step
			case "root":
				kind = "layout"
			}
			ann[oci.AnnotationKind] = kind
			ann[oci.AnnotationKeyIDs] = strings.Join(env.SignerKeyIDs(), ",")
			// Later documents are newer.
			minute++
			ann[oci.AnnotationCreated] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(-minute) * time.Minute).Format(time.RFC3339)
			a, err := oci.AttachReferrer(ctx, s, subject, oci.Referrer{ArtifactType: oci.ArtifactType(kind, attest.FormDSSE), LayerMediaType: oci.MediaTypeDSSE,
				Data: raw, Title: "evidence", Annotations: ann})
			if err != nil {
				t.Fatal(err)
			}
			byDigest[a.Manifest.Digest.String()] = raw
			attach(a.Manifest, spec.sub)
		}
	}
	attach(image, docs)
	_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b, byDigest
}

// entry is what snapshot records of one file.
type entry struct {
	mode fs.FileMode
	data string // a regular file's content, a symlink's target
}

// snapshot records every file below base, following nothing, except
// what is below skip.
func snapshot(t *testing.T, base, skip string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.data, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			e.data = string(b)
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(a, b map[string]entry) bool {
	if len(a) != len(b) {
		return false
	}
	for p, e := range a {
		if b[p] != e {
			return false
		}
	}
	return true
}

func diffSnapshot(a, b map[string]entry) string {
	var out []string
	for p, e := range b {
		if old, ok := a[p]; !ok {
			out = append(out, "created "+p)
		} else if old != e {
			out = append(out, "changed "+p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, "removed "+p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Skip("no symbolic links here:", err)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
