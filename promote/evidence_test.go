package promote_test

// Promote copies exactly the evidence verification read and used — the
// layout, the links counted, the sublayouts counted and their links
// counted — the referrers of the types asked for that the same walk
// listed, and the image; then the summary. Nothing else that hangs on the
// image is copied: not what verification did not count (an older layout,
// unauthorised, stale or unknown-step links), not what it never listed
// (referrers below a link), not what the registry hid from it or attached
// while promote ran, and not a referrer beyond the limits verification
// uses. The registry is go-containerregistry's, behind a handler that
// misbehaves only where a test says.

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

const (
	peMaxBlob = 64 << 10 // the --max-blob-size of these tests
	peSBOM    = "application/spdx+json"
)

// peChain is a supply chain with real keys: bob builds through a
// sublayout whose one step, compile, carol performs; alice pushes the
// image (binding the evidence to it); mallory is in no layout.
type peChain struct {
	t     *testing.T
	owner *attest.Signer
	keys  map[string]*attest.Signer
}

func newPEChain(t *testing.T) *peChain {
	c := &peChain{t: t, keys: map[string]*attest.Signer{}}
	for _, who := range []string{"owner", "alice", "bob", "carol", "mallory", "promoter"} {
		s, err := attest.GenerateKey(attest.KeyTypeEd25519)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[who] = s
	}
	c.owner = c.keys["owner"]
	return c
}

func (c *peChain) id(who string) string { return c.keys[who].Key().KeyID }

func (c *peChain) rules(lines ...string) [][]string {
	var out [][]string
	for _, l := range lines {
		r, err := attest.ParseRuleString(l)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, r.Tokens())
	}
	return out
}

func (c *peChain) sign(payload []byte, err error, who string) []byte {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, c.keys[who])
	if err != nil {
		c.t.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// layout is the owner's layout of the given version.
func (c *peChain) layout(version int) []byte {
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
	l.SetVersion(version)
	payload, err := l.Marshal()
	return c.sign(payload, err, "owner")
}

// sublayout is bob's layout for the build step.
func (c *peChain) sublayout() []byte {
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{c.id("carol"): c.keys["carol"].Key()}}
	l.Steps = []attest.Step{{Name: "compile", Threshold: 1, PubKeys: []string{c.id("carol")}, ExpectedProducts: c.rules("CREATE app.tar", "DISALLOW *")}}
	payload, err := l.Marshal()
	return c.sign(payload, err, "bob")
}

func peSHA(s string) attest.HashObj {
	return attest.HashObj{"sha256": digest.FromString(s).Encoded()}
}

func (c *peChain) link(step, who string, materials, products map[string]attest.HashObj, cmd ...string) []byte {
	l := &attest.Link{Name: step, Command: append([]string{step}, cmd...), Materials: materials, Products: products}
	payload, err := l.Marshal()
	return c.sign(payload, err, who)
}

func (c *peChain) compileLink(who, tar string) []byte {
	return c.link("compile", who, nil, map[string]attest.HashObj{"app.tar": peSHA(tar)})
}

func (c *peChain) pushLink(who, tar string, image ocispec.Descriptor, cmd ...string) []byte {
	return c.link("push", who, map[string]attest.HashObj{"app.tar": peSHA(tar)}, map[string]attest.HashObj{attest.ImageArtifact: {"sha256": image.Digest.Encoded()}}, cmd...)
}

// peUsed is the evidence attachUsed attaches: what verification uses.
type peUsed struct{ layout, sub, compile, push ocispec.Descriptor }

func (u peUsed) all() []ocispec.Descriptor {
	return []ocispec.Descriptor{u.layout, u.sub, u.compile, u.push}
}

// attachUsed attaches to image the owner's layout of version, bob's
// sublayout for the build step with carol's compile link below it, and
// alice's push link.
func (c *peChain) attachUsed(t *testing.T, s oci.Store, image ocispec.Descriptor, version int) peUsed {
	t.Helper()
	var u peUsed
	u.layout = peAttach(t, s, image, c.layout(version), oci.AttachOptions{})
	u.sub = peAttach(t, s, image, c.sublayout(), oci.AttachOptions{Step: "build"})
	u.compile = peAttach(t, s, u.sub, c.compileLink("carol", "tar"), oci.AttachOptions{})
	u.push = peAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
	return u
}

func (c *peChain) options(copyTypes ...string) promote.Options {
	return promote.Options{
		Verify:    verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}, MaxBlobBytes: peMaxBlob},
		Signer:    c.keys["promoter"],
		CopyTypes: copyTypes,
	}
}

// peRegistry is go-containerregistry's registry served twice: plainly
// (the backend, for the tests' own pushes) and behind a handler that
// counts the listings of one subject's referrers (referrers API, or the
// tag schema's index) and lets a test rewrite each and act after it.
type peRegistry struct {
	backend, front string
	mu             sync.Mutex
	subject        digest.Digest
	listings       int
	rewrite        func(n int, body []byte) []byte
	after          func(n int)
	writes         int
}

func newPERegistry(t *testing.T, referrersAPI bool) *peRegistry {
	t.Helper()
	reg := &peRegistry{}
	h := ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0)))
	back := httptest.NewServer(h)
	t.Cleanup(back.Close)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		subject := reg.subject
		if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodDelete {
			reg.writes++
		}
		reg.mu.Unlock()
		listing := subject != "" && r.Method == http.MethodGet &&
			(strings.HasSuffix(r.URL.Path, "/referrers/"+subject.String()) || strings.HasSuffix(r.URL.Path, "/manifests/"+subject.Algorithm().String()+"-"+subject.Encoded()))
		if !listing {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		n := 0
		if rec.Code == http.StatusOK {
			reg.mu.Lock()
			reg.listings++
			n = reg.listings
			rewrite := reg.rewrite
			reg.mu.Unlock()
			if rewrite != nil {
				body = rewrite(n, body)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
		// The listing is written (and buffered: the client reads it
		// when the handler returns) before anything is attached.
		reg.mu.Lock()
		after := reg.after
		reg.mu.Unlock()
		if after != nil && n > 0 {
			after(n)
		}
	}))
	t.Cleanup(front.Close)
	reg.backend = strings.TrimPrefix(back.URL, "http://")
	reg.front = strings.TrimPrefix(front.URL, "http://")
	return reg
}

func (r *peRegistry) counts() (listings, writes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listings, r.writes
}

// pePushImage pushes an image whose layer is larger than peMaxBlob: the
// image's own blobs are not bounded.
func pePushImage(t *testing.T, s oci.Store) ocispec.Descriptor {
	t.Helper()
	return testenv.PushImage(t, s, strings.Repeat("image ", 3*peMaxBlob/6))
}

func peAttach(t *testing.T, s oci.Store, subject ocispec.Descriptor, file []byte, o oci.AttachOptions) ocispec.Descriptor {
	t.Helper()
	a, err := oci.Attach(context.Background(), s, subject, file, o)
	if err != nil {
		t.Fatal(err)
	}
	return a.Manifest
}

// peRaw pushes a referrer as another tool would: a manifest of
// artifactType, a config (the empty {} unless config is given) and layers
// of the given media types and contents.
func peRaw(t *testing.T, s oci.Store, subject ocispec.Descriptor, artifactType string, config []byte, layers ...[2]string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	po := oras.PackManifestOptions{Subject: &subject}
	for _, l := range layers {
		d, err := oras.PushBytes(ctx, s, l[0], []byte(l[1]))
		if err != nil {
			t.Fatal(err)
		}
		po.Layers = append(po.Layers, d)
	}
	if config != nil {
		d, err := oras.PushBytes(ctx, s, "application/vnd.example.config", config)
		if err != nil {
			t.Fatal(err)
		}
		po.ConfigDescriptor = &d
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, artifactType, po)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// peGraph lists every referrer below image in s, the whole graph.
func peGraph(t *testing.T, s oci.Store, image ocispec.Descriptor) []string {
	t.Helper()
	g, err := oci.Discover(context.Background(), s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return peDigests(g)
}

func peDigests(g *oci.Node) []string {
	var out []string
	var walk func(n *oci.Node)
	walk = func(n *oci.Node) {
		for _, c := range n.Referrers {
			out = append(out, c.Digest)
			walk(c)
		}
	}
	walk(g)
	sort.Strings(out)
	return out
}

func peSorted(ds ...ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	sort.Strings(out)
	return out
}

func TestPromoteCopiesWhatVerificationUsed(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []struct {
		name         string
		referrersAPI bool
	}{{"referrers API", true}, {"tag schema", false}} {
		for _, copyTypes := range [][]string{nil, {peSBOM}} {
			t.Run(mode.name+"/copy types "+strings.Join(copyTypes, ","), func(t *testing.T) {
				c := newPEChain(t)
				reg := newPERegistry(t, mode.referrersAPI)
				back := testenv.Open(t, reg.backend+"/app")
				image := pePushImage(t, back)

				// What verification uses.
				used := c.attachUsed(t, back, image, 2)
				sbom := peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, `{"spdxVersion":"SPDX-2.3"}`})

				// What it reads but does not use, or never lists.
				peAttach(t, back, image, c.layout(1), oci.AttachOptions{})                                                                      // older layout
				peAttach(t, back, used.sub, c.compileLink("mallory", "tar"), oci.AttachOptions{})                                               // unauthorised, in the sublayout
				peAttach(t, back, image, c.pushLink("mallory", "tar", image), oci.AttachOptions{})                                              // unauthorised
				peAttach(t, back, image, c.pushLink("alice", "stale", image, "--stale"), oci.AttachOptions{Created: time.Now().Add(time.Hour)}) // newer stale re-run
				peAttach(t, back, image, c.link("deploy", "mallory", nil, nil), oci.AttachOptions{})                                            // no such step
				peAttach(t, back, used.push, c.pushLink("alice", "tar", image, "below", "a", "link"), oci.AttachOptions{})                      // below a link
				peRaw(t, back, used.push, peSBOM, nil, [2]string{peSBOM, `{"below":"a link"}`})                                                 // an SBOM below a link
				peRaw(t, back, used.compile, peSBOM, nil, [2]string{peSBOM, `{"below":"a sublayout's link"}`})
				peRaw(t, back, image, "application/vnd.dev.cosign.artifact.sig.v1+json", nil, [2]string{"application/vnd.dev.cosign.simplesigning.v1+json", `{}`})
				big := peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, strings.Repeat("x", peMaxBlob+1)}) // beyond --max-blob-size

				reg.mu.Lock()
				reg.subject = image.Digest
				reg.mu.Unlock()

				dstReg := newPERegistry(t, !mode.referrersAPI)
				dst := testenv.Open(t, dstReg.front+"/app")
				src := testenv.Open(t, reg.front+"/app")
				res, err := promote.Promote(ctx, src, reg.front+"/app", image, dst, dstReg.front+"/app", "release", c.options(copyTypes...))
				if err != nil {
					t.Fatalf("promote: %v\n%s", err, reportOf(res))
				}
				if n, _ := reg.counts(); n != 1 {
					t.Errorf("the image's referrers were listed %d times in the source, want once (verification)", n)
				}
				want := used.all()
				if len(copyTypes) > 0 {
					want = append(want, sbom)
					if len(res.LeftOut) != 1 || res.LeftOut[0].Digest != big.Digest.String() || !strings.Contains(res.LeftOut[0].Reason, "more than the 65536 allowed") {
						t.Errorf("left out %+v, want %s beyond the blob limit", res.LeftOut, big.Digest)
					}
				} else if len(res.LeftOut) != 0 {
					t.Errorf("left out %+v", res.LeftOut)
				}
				if got := peDigests(res.Graph); strings.Join(got, " ") != strings.Join(peSorted(want...), " ") {
					t.Errorf("Result.Graph\n  %v\nwant\n  %v", got, peSorted(want...))
				}
				want = append(want, res.VSA)
				if got := peGraph(t, dst, image); strings.Join(got, " ") != strings.Join(peSorted(want...), " ") {
					t.Errorf("destination graph\n  %v\nwant\n  %v", got, peSorted(want...))
				}
				// The copy verifies in full, and its summary is found.
				if _, err := verify.Image(ctx, dst, image, c.options().Verify); err != nil {
					t.Errorf("the promoted copy: %v", err)
				}
				if _, err := promote.CheckVSA(ctx, dst, image, promote.VSAPolicy{Keys: []*attest.Key{c.keys["promoter"].Key()}}); err != nil {
					t.Error(err)
				}

				// Promoting again adds nothing: no write, the same graph.
				before := peGraph(t, dst, image)
				_, writes := dstReg.counts()
				again, err := promote.Promote(ctx, src, reg.front+"/app", image, dst, dstReg.front+"/app", "release", c.options(copyTypes...))
				if err != nil || !again.VSAExisted || again.VSA.Digest != res.VSA.Digest {
					t.Fatalf("promote again: %v %+v", err, again)
				}
				_, writesAgain := dstReg.counts()
				// (Tagging the image again is the one write.)
				if after := peGraph(t, dst, image); strings.Join(after, " ") != strings.Join(before, " ") || writesAgain-writes > 1 {
					t.Errorf("promote again: %d writes; graph %v, was %v", writesAgain-writes, after, before)
				}
			})
		}
	}
}

// A referrer attached while promote runs, after verification listed the
// image's referrers (an SBOM of a type asked for, an authorised link that
// verification would have counted), is not copied.
func TestPromoteIgnoresReferrersAttachedWhileItRuns(t *testing.T) {
	ctx := context.Background()
	for _, referrersAPI := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[referrersAPI], func(t *testing.T) {
			c := newPEChain(t)
			reg := newPERegistry(t, referrersAPI)
			back := testenv.Open(t, reg.backend+"/app")
			image := pePushImage(t, back)
			used := c.attachUsed(t, back, image, 1)
			var late []ocispec.Descriptor
			reg.mu.Lock()
			reg.subject = image.Digest
			reg.after = func(n int) {
				if n == 1 {
					late = append(late,
						peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, `{"late":true}`}),
						peAttach(t, back, image, c.pushLink("alice", "tar", image, "--late"), oci.AttachOptions{}))
				}
			}
			reg.mu.Unlock()

			dstReg := newPERegistry(t, !referrersAPI)
			dst := testenv.Open(t, dstReg.front+"/app")
			res, err := promote.Promote(ctx, testenv.Open(t, reg.front+"/app"), reg.front+"/app", image, dst, dstReg.front+"/app", "release", c.options(peSBOM))
			if err != nil {
				t.Fatalf("promote: %v\n%s", err, reportOf(res))
			}
			if len(late) != 2 {
				t.Fatal("nothing was attached while promote ran")
			}
			if n, _ := reg.counts(); n != 1 {
				t.Errorf("the image's referrers were listed %d times in the source, want once (verification)", n)
			}
			want := peSorted(append(used.all(), res.VSA)...)
			if got := peGraph(t, dst, image); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("destination graph\n  %v\nwant\n  %v (not %v)", got, want, peSorted(late...))
			}
		})
	}
}

// A referrer that the registry hides from verification's listing, and
// shows to any later one, is not copied: promote does not list the
// source again.
func TestPromoteIgnoresReferrersHiddenFromVerification(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	reg := newPERegistry(t, true)
	back := testenv.Open(t, reg.backend+"/app")
	image := pePushImage(t, back)
	used := c.attachUsed(t, back, image, 1)
	hidden := map[digest.Digest]bool{
		peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, `{"hidden":true}`}).Digest:                     true,
		peAttach(t, back, image, c.pushLink("alice", "tar", image, "--hidden"), oci.AttachOptions{}).Digest: true,
	}
	reg.mu.Lock()
	reg.subject = image.Digest
	reg.rewrite = func(n int, body []byte) []byte {
		if n != 1 {
			return body
		}
		var idx ocispec.Index
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Error(err)
			return body
		}
		var kept []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if !hidden[d.Digest] {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		out, err := json.Marshal(idx)
		if err != nil {
			t.Error(err)
		}
		return out
	}
	reg.mu.Unlock()

	dstReg := newPERegistry(t, true)
	dst := testenv.Open(t, dstReg.front+"/app")
	src := testenv.Open(t, reg.front+"/app")
	res, err := promote.Promote(ctx, src, reg.front+"/app", image, dst, dstReg.front+"/app", "", c.options(peSBOM))
	if err != nil {
		t.Fatalf("promote: %v\n%s", err, reportOf(res))
	}
	want := peSorted(append(used.all(), res.VSA)...)
	if got := peGraph(t, dst, image); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("destination graph\n  %v\nwant\n  %v", got, want)
	}
	// A later listing does show them.
	list, err := oci.ListReferrers(ctx, src, image, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, d := range list {
		if hidden[d.Digest] {
			shown++
		}
	}
	if shown != 2 {
		t.Fatalf("the later listing shows %d of the hidden referrers", shown)
	}
}

// Evidence verification used that cannot be copied within the limits (a
// referrer holding the push link beside a blob beyond --max-blob-size,
// in a layer verification does not read or in its config) fails the
// promotion before anything is copied.
func TestPromoteEvidenceBeyondLimits(t *testing.T) {
	ctx := context.Background()
	huge := strings.Repeat("x", peMaxBlob+1)
	for _, tc := range []struct {
		name   string
		config []byte
		extra  [][2]string
	}{
		{"a large layer beside the link", nil, [][2]string{{"application/octet-stream", huge}}},
		{"a large config", []byte(huge), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newPEChain(t)
			reg := newPERegistry(t, true)
			back := testenv.Open(t, reg.backend+"/app")
			image := pePushImage(t, back)
			peAttach(t, back, image, c.layout(1), oci.AttachOptions{})
			sub := peAttach(t, back, image, c.sublayout(), oci.AttachOptions{Step: "build"})
			peAttach(t, back, sub, c.compileLink("carol", "tar"), oci.AttachOptions{})
			layers := append([][2]string{{oci.MediaTypeDSSE, string(c.pushLink("alice", "tar", image))}}, tc.extra...)
			bundle := peRaw(t, back, image, "application/vnd.example.bundle", tc.config, layers...)

			dstReg := newPERegistry(t, true)
			dst := testenv.Open(t, dstReg.front+"/app")
			res, err := promote.Promote(ctx, testenv.Open(t, reg.front+"/app"), reg.front+"/app", image, dst, dstReg.front+"/app", "release", c.options())
			if err == nil || verify.IsNotVerified(err) || !strings.Contains(err.Error(), "referrer "+bundle.Digest.String()+" is needed but cannot be copied") || !strings.Contains(err.Error(), "more than the 65536 allowed") {
				t.Fatalf("promote: %v\n%s", err, reportOf(res))
			}
			if res.Report == nil || !res.Report.Verified {
				t.Fatalf("the source should verify:\n%s", reportOf(res))
			}
			if ok, _ := dst.Exists(ctx, image); ok {
				t.Fatal("the image was copied")
			}
			if _, writes := dstReg.counts(); writes != 0 {
				t.Fatalf("%d writes to the destination", writes)
			}
		})
	}
}

// A dry run says what would be copied and left out, and copies nothing.
func TestPromoteDryRunSaysWhatWouldBeCopied(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	reg := newPERegistry(t, true)
	back := testenv.Open(t, reg.backend+"/app")
	image := pePushImage(t, back)
	used := c.attachUsed(t, back, image, 1)
	sbom := peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, `{}`})
	big := peRaw(t, back, image, peSBOM, nil, [2]string{peSBOM, strings.Repeat("x", peMaxBlob+1)})
	peAttach(t, back, image, c.pushLink("mallory", "tar", image), oci.AttachOptions{})

	dstReg := newPERegistry(t, true)
	o := c.options(peSBOM)
	o.DryRun, o.Signer = true, nil
	res, err := promote.Promote(ctx, testenv.Open(t, reg.front+"/app"), reg.front+"/app", image, testenv.Open(t, dstReg.front+"/app"), dstReg.front+"/app", "release", o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := peDigests(res.Graph), peSorted(append(used.all(), sbom)...); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("would copy %v, want %v", got, want)
	}
	if len(res.LeftOut) != 1 || res.LeftOut[0].Digest != big.Digest.String() {
		t.Errorf("would leave out %+v, want %s", res.LeftOut, big.Digest)
	}
	if _, writes := dstReg.counts(); writes != 0 {
		t.Fatalf("a dry run wrote %d times", writes)
	}
}

func reportOf(res *promote.Result) string {
	if res == nil || res.Report == nil {
		return "(no report)"
	}
	var b strings.Builder
	_ = res.Report.WriteText(&b)
	return b.String()
}
