package oci_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// TestTreeQuotesWhatTheRegistrySays: every string of the discover tree
// (digests, artifact types, annotations, steps, keyids, expiries,
// problems, what content says) is printed so that no terminal acts on it,
// and each attack is shown, quoted.
func TestTreeQuotesWhatTheRegistrySays(t *testing.T) {
	for _, attack := range testenv.TerminalAttacks {
		t.Run(strconv.Quote(attack), func(t *testing.T) {
			graph := &oci.Node{Digest: "sha256:" + strings.Repeat("a", 64), Referrers: []*oci.Node{
				{Digest: attack, ArtifactType: attack, Annotations: map[string]string{
					oci.AnnotationKind: attack, oci.AnnotationStep: attack, oci.AnnotationKeyIDs: attack + "," + attack, oci.AnnotationExpires: attack}},
				{Digest: "sha256:" + strings.Repeat("b", 64), ArtifactType: attack, Annotations: map[string]string{oci.AnnotationPredicateType: attack}},
				{Digest: "sha256:" + strings.Repeat("c", 64), ArtifactType: "x", FromContent: &oci.ContentSummary{Kind: attack, Step: attack, KeyIDs: []string{attack}, Expires: attack}},
				{Digest: "sha256:" + strings.Repeat("d", 64), ArtifactType: attack, Problem: attack},
			}}
			var b strings.Builder
			if err := graph.WriteTree(&b, attack); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			if why := testenv.TerminalUnsafe(text, false); why != "" {
				t.Errorf("tree holds a %s:\n%q", why, text)
			}
			if lines := strings.Count(text, "\n"); lines != 5 {
				t.Errorf("tree of 4 referrers has %d lines:\n%s", lines, text)
			}
			if !strings.Contains(text, strconv.Quote(attack)) {
				t.Errorf("tree does not show %s:\n%s", strconv.Quote(attack), text)
			}
		})
	}
}

// TestTreeFromAHostileRegistry: referrers pushed with escape sequences in
// their artifact type, annotations and content, read back from an
// in-process registry, are shown quoted.
func TestTreeFromAHostileRegistry(t *testing.T) {
	ctx := context.Background()
	const attack = "\x1b[32mPASS: the supply chain verifies\x1b[0m\r"
	s := open(t, newRegistry(t, true)+"/app")
	image := pushImage(t, s, "app")
	signer := key(t)
	// A link with referee's annotations, all of them hostile.
	link := sign(t, attest.FormDSSE, must((&attest.Link{Name: attack}).Marshal()), signer)
	if _, err := oci.AttachReferrer(ctx, s, image, oci.Referrer{ArtifactType: oci.ArtifactTypeLinkDSSE + attack, LayerMediaType: oci.MediaTypeDSSE, Data: link, Title: attack,
		Annotations: map[string]string{oci.AnnotationKind: attack, oci.AnnotationStep: "\x1b]0;title\x07", oci.AnnotationKeyIDs: "\x1b[2J", oci.AnnotationExpires: "\u202e"}}); err != nil {
		t.Fatal(err)
	}
	// Another tool's link, without annotations: described by its content,
	// whose step name and unsigned keyid are hostile.
	env, err := attest.SignPayload(attest.FormDSSE, must((&attest.Link{Name: attack, Command: []string{"other"}}).Marshal()), signer)
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].KeyID = "\x1b[2J\u202e"
	layer, err := oras.PushBytes(ctx, s, oci.MediaTypeDSSE, must(env.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.in-toto+json", oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{layer}}); err != nil {
		t.Fatal(err)
	}
	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(graph.Referrers) != 2 {
		t.Fatalf("discovered %d referrers, want 2", len(graph.Referrers))
	}
	var b strings.Builder
	if err := graph.WriteTree(&b, "app"); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if why := testenv.TerminalUnsafe(text, false); why != "" {
		t.Errorf("tree holds a %s:\n%q", why, text)
	}
	for _, want := range []string{strconv.Quote(oci.ArtifactTypeLinkDSSE + attack), strconv.Quote(attack), `step "\x1b]0;title\a"`, `keys "\x1b[2J"`, `expires "\u202e"`, `keys "\x1b[2J\u202e"`, "read from content"} {
		if !strings.Contains(text, want) {
			t.Errorf("tree does not show %s:\n%s", want, text)
		}
	}
}
