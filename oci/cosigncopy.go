package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// This file carries cosign's legacy attestations (the layers of the tag
// sha256-<hex>.att, see cosign.go) from one store to another, as promote
// carries the referrers verification used.
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/ATTESTATION_SPEC.md

// CosignCopyOptions bounds PlanCosignCopy; zero values are the defaults
// of the rest of the package.
type CosignCopyOptions struct {
	// MaxManifestBytes bounds each .att manifest read or written (zero:
	// DefaultMaxManifestBytes); MaxBlobBytes each layer and config (zero:
	// DefaultMaxBlobBytes). The layers carried together are bounded by
	// DefaultMaxTotalBytes.
	MaxManifestBytes, MaxBlobBytes int64
	// DstLayout is dst's directory when dst is an OCI layout (see
	// CopyOptions.DstLayout): Write removes the ingest/ directory
	// oras-go leaves there, when it is empty.
	DstLayout string
}

// CosignCopy is the copy of some of cosign's legacy attestations of one
// image, layers of src's tag sha256-<hex>.att, to dst's tag of the same
// name, planned by PlanCosignCopy and made by Write.
type CosignCopy struct {
	// Tag is the tag in both stores, sha256-<hex>.att.
	Tag string
	// Source is src's .att manifest the layers are from: the one the
	// attestations were read from, by digest, whatever the tag names now.
	Source ocispec.Descriptor
	// Layers are the layers carried (exact blobs, with their
	// annotations), in src's order.
	Layers []ocispec.Descriptor
	// Existing is the manifest dst's tag named when last read (by the plan,
	// then by Write); zero when dst had no such tag.
	Existing ocispec.Descriptor
	// Missing are those of Layers that Existing lacked (all of them when
	// there was none): what Write adds, beside every layer Existing has.
	// Empty: dst has them all and Write writes nothing.
	Missing []ocispec.Descriptor
	// Manifest is what dst's tag names after Write: Existing when nothing
	// was missing.
	Manifest ocispec.Descriptor

	src, dst  Store
	dstLayout string
	limits    copyLimits
	srcM      ocispec.Manifest
	srcData   []byte
	srcConfig []byte
	blobs     map[digest.Digest][]byte
}

// cosignDst is what dst's .att tag held when read.
type cosignDst struct {
	cur    ocispec.Descriptor // zero: no tag
	m      ocispec.Manifest
	config []byte
}

// PlanCosignCopy plans the copy to dst of the attestations among atts in
// cosign's legacy form (AttestationFormCosign, as ReadAttestations found
// them in src for image): exactly their layers of the .att manifest they
// were read from (read again by digest, each layer checked to hold the
// Statement read before), to dst's tag of the same name. It reads dst's
// tag too, to say what is missing there, and refuses before anything is
// written what cannot be copied within the limits or merged with what dst
// holds (a tag that is not an image manifest, or more than the 64 layers
// referee reads). It returns nil when atts holds none of that form.
func PlanCosignCopy(ctx context.Context, src, dst Store, image ocispec.Descriptor, atts []Attestation, o CosignCopyOptions) (*CosignCopy, error) {
	tag := CosignAttestationTag(image.Digest.String())
	c := &CosignCopy{Tag: tag, src: src, dst: dst, dstLayout: o.DstLayout, limits: copyLimits{blob: o.MaxBlobBytes, manifest: o.MaxManifestBytes}, blobs: map[digest.Digest][]byte{}}
	if c.limits.blob <= 0 {
		c.limits.blob = DefaultMaxBlobBytes
	}
	if c.limits.manifest <= 0 {
		c.limits.manifest = DefaultMaxManifestBytes
	}
	statements := map[int][]byte{}
	for _, a := range atts {
		if a.Form != AttestationFormCosign {
			continue
		}
		i, ok := cosignLayerIndex(a.Source, tag)
		if !ok {
			return nil, fmt.Errorf("cosign attestation %q is not a layer of tag %s of image %s", a.Source, tag, image.Digest)
		}
		if c.Source.Digest != "" && a.Referrer.Digest != c.Source.Digest {
			return nil, fmt.Errorf("cosign's attestations of %s were read from two manifests of tag %s, %s and %s", image.Digest, tag, c.Source.Digest, a.Referrer.Digest)
		}
		c.Source = ocispec.Descriptor{MediaType: a.Referrer.MediaType, Digest: a.Referrer.Digest, Size: a.Referrer.Size}
		statements[i] = a.Statement
	}
	if len(statements) == 0 {
		return nil, nil
	}
	if err := c.readSource(ctx, statements); err != nil {
		return nil, fmt.Errorf("reading tag %s of the source: %w", tag, err)
	}
	if _, err := c.readDst(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// cosignLayerIndex returns which layer of tag's manifest source (an
// Attestation.Source, as cosignTag names them) is.
func cosignLayerIndex(source, tag string) (int, bool) {
	rest, ok := strings.CutPrefix(source, "tag "+tag+" layer ")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0
}

// readSource reads src's .att manifest by digest, its config and the
// layers at the indexes of statements, each checked to hold its statement.
func (c *CosignCopy) readSource(ctx context.Context, statements map[int][]byte) error {
	data, err := fetchAll(ctx, c.src, c.Source, c.limits.manifest)
	if err != nil {
		return fmt.Errorf("manifest %w", err)
	}
	if err := unmarshalStrict(data, &c.srcM); err != nil {
		return fmt.Errorf("manifest %s: %w", c.Source.Digest, err)
	}
	m := &c.srcM
	switch {
	case len(m.Layers) > maxAttestationLayers:
		return fmt.Errorf("manifest %s has %d layers; referee reads at most %d", c.Source.Digest, len(m.Layers), maxAttestationLayers)
	case m.Config.Digest == "":
		return fmt.Errorf("manifest %s names no config", c.Source.Digest)
	}
	for i := range statements {
		if i >= len(m.Layers) {
			return fmt.Errorf("manifest %s has no layer %d", c.Source.Digest, i)
		}
	}
	c.srcData = data
	if c.srcConfig, err = fetchAll(ctx, c.src, m.Config, c.limits.blob); err != nil {
		return fmt.Errorf("config %w", err)
	}
	var total int64
	for i, l := range m.Layers {
		st, ok := statements[i]
		if !ok || slices.ContainsFunc(c.Layers, func(d ocispec.Descriptor) bool { return d.Digest == l.Digest }) {
			continue
		}
		if l.MediaType != MediaTypeDSSE {
			return fmt.Errorf("layer %d of manifest %s is a %s, not a DSSE envelope", i, c.Source.Digest, l.MediaType)
		}
		if total += l.Size; total > DefaultMaxTotalBytes {
			return fmt.Errorf("the attestations to copy would be more than %d bytes", DefaultMaxTotalBytes)
		}
		blob, err := fetchAll(ctx, c.src, l, c.limits.blob)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		env, err := parseDSSE(blob)
		if err != nil || !bytes.Equal(env.Payload, st) {
			return fmt.Errorf("layer %d of manifest %s is not the attestation verification read", i, c.Source.Digest)
		}
		c.blobs[l.Digest] = blob
		c.Layers = append(c.Layers, l)
	}
	return nil
}

// readDst reads what dst's tag holds and sets Existing and Missing.
func (c *CosignCopy) readDst(ctx context.Context) (*cosignDst, error) {
	st := &cosignDst{}
	c.Existing, c.Missing = ocispec.Descriptor{}, nil
	cur, err := c.dst.Resolve(ctx, c.Tag)
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		c.Missing = slices.Clone(c.Layers)
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("resolving tag %s of the destination: %w", c.Tag, bareTimeout(err))
	}
	fail := func(format string, a ...any) (*cosignDst, error) {
		return nil, fmt.Errorf("tag %s of the destination "+format+"; not replacing it", append([]any{c.Tag}, a...)...)
	}
	if cur.MediaType != ocispec.MediaTypeImageManifest && cur.MediaType != mediaTypeDockerManifest {
		return fail("is of media type %s, not an image manifest", cur.MediaType)
	}
	data, err := fetchAll(ctx, c.dst, cur, c.limits.manifest)
	if err != nil {
		return fail("cannot be read: %v", err)
	}
	if err := unmarshalStrict(data, &st.m); err != nil {
		return fail("is not a manifest (%s): %v", cur.Digest, err)
	}
	st.cur = cur
	c.Existing = ocispec.Descriptor{MediaType: cur.MediaType, Digest: cur.Digest, Size: cur.Size}
	for _, l := range c.Layers {
		if !slices.ContainsFunc(st.m.Layers, func(d ocispec.Descriptor) bool { return d.Digest == l.Digest }) {
			c.Missing = append(c.Missing, l)
		}
	}
	switch {
	case len(c.Missing) == 0:
		return st, nil
	case st.m.MediaType != "" && st.m.MediaType != cur.MediaType:
		return fail("says it is a %q, not the %s the registry served", st.m.MediaType, cur.MediaType)
	case st.m.Config.Digest == "":
		return fail("names no config (%s)", cur.Digest)
	case len(st.m.Layers)+len(c.Missing) > maxAttestationLayers:
		return fail("has %d layers, and %d more would be more than the %d referee reads", len(st.m.Layers), len(c.Missing), maxAttestationLayers)
	}
	if st.config, err = fetchAll(ctx, c.dst, st.m.Config, c.limits.blob); err != nil {
		return fail("has a config that cannot be read: %v", err)
	}
	return st, nil
}

// Write makes the copy PlanCosignCopy planned, through dst's
// fault-tolerant pushes: the layers dst's tag lacks (read again now) are
// pushed, then a manifest that holds every layer the tag held and them is
// tagged, like the one cosign writes (the media types, annotations and
// config of the tag's manifest, or of src's when dst has none, the
// config naming the layers). Where nothing is missing it writes nothing.
// The tag is a read-modify-write: its write is sent within a short span
// of a read finding the tag unchanged, or done again from a new read;
// another writer's layers are never dropped by a write of stale content
// (except one landing within that span, as with cosign itself).
func (c *CosignCopy) Write(ctx context.Context) error {
	if c.dstLayout != "" {
		defer removeEmptyIngest(c.dstLayout)
	}
	var err error
	for attempt := range indexWriteAttempts {
		if attempt > 0 {
			if perr := pause(ctx, pushBackoff(attempt)); perr != nil {
				return perr
			}
		}
		var st *cosignDst
		if st, err = c.readDst(ctx); err != nil {
			return err
		}
		if len(c.Missing) == 0 {
			c.Manifest = c.Existing
			return nil
		}
		var desc ocispec.Descriptor
		var data []byte
		if desc, data, err = c.pushContent(ctx, st); err != nil {
			return err
		}
		err = c.tag(ctx, st.cur, desc, data)
		if err == nil {
			c.Manifest = desc
			return nil
		}
		if !errors.Is(err, errTagMoved) && !retryIndexWrite(ctx, err) {
			return err
		}
	}
	return fmt.Errorf("writing tag %s of the destination: %w", c.Tag, err)
}

// pushContent pushes the missing layers, the config and the manifest that
// dst's tag is to name, and returns that manifest.
func (c *CosignCopy) pushContent(ctx context.Context, st *cosignDst) (ocispec.Descriptor, []byte, error) {
	for _, l := range c.Missing {
		if err := pushIfAbsent(ctx, c.dst, l, c.blobs[l.Digest]); err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("copying attestation layer %s to tag %s: %w", l.Digest, c.Tag, err)
		}
	}
	base, baseConfig, mediaType := c.srcM, c.srcConfig, c.Source.MediaType
	layers := c.Layers
	if st.cur.Digest != "" {
		base, baseConfig, mediaType = st.m, st.config, st.cur.MediaType
		layers = append(slices.Clone(st.m.Layers), c.Missing...)
	}
	history := cosignHistory(c.srcConfig, c.srcM.Layers)
	for d, h := range cosignHistory(st.config, st.m.Layers) {
		history[d] = h
	}
	config, cfgDesc := cosignConfig(baseConfig, layers, history), base.Config
	if !bytes.Equal(config, baseConfig) {
		cfgDesc = ocispec.Descriptor{MediaType: base.Config.MediaType, Digest: digest.FromBytes(config), Size: int64(len(config))}
	}
	if err := pushIfAbsent(ctx, c.dst, cfgDesc, config); err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("copying the config of tag %s: %w", c.Tag, err)
	}
	data := c.srcData
	if st.cur.Digest != "" || len(layers) != len(c.srcM.Layers) || cfgDesc.Digest != c.srcM.Config.Digest {
		m := ocispec.Manifest{Versioned: specsVersioned(), MediaType: mediaType, ArtifactType: base.ArtifactType, Config: cfgDesc, Layers: layers, Annotations: base.Annotations}
		var err error
		if data, err = marshalJSON(m); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	if int64(len(data)) > c.limits.manifest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("tag %s's manifest would be %d bytes, more than the %d allowed", c.Tag, len(data), c.limits.manifest)
	}
	desc := content.NewDescriptorFromBytes(mediaType, data)
	if err := pushIfAbsent(ctx, c.dst, desc, data); err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("writing tag %s's manifest: %w", c.Tag, err)
	}
	return desc, data, nil
}

// errTagMoved is a tag that another writer moved since it was read.
var errTagMoved = errors.New("moved by another writer since it was read")

// tag points dst's tag at desc if it still names was (zero: no tag),
// within maxIndexWrite of reading it so (see writeTagIndex).
func (c *CosignCopy) tag(ctx context.Context, was, desc ocispec.Descriptor, data []byte) error {
	cur, err := c.dst.Resolve(ctx, c.Tag)
	readAt := time.Now()
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		cur = ocispec.Descriptor{}
	case err != nil:
		return fmt.Errorf("resolving tag %s of the destination: %w", c.Tag, bareTimeout(err))
	}
	if cur.Digest != was.Digest {
		return errTagMoved
	}
	rp, ok := c.dst.(registry.ReferencePusher)
	if !ok {
		if err := c.dst.Tag(ctx, desc, c.Tag); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", desc.Digest, c.Tag, err)
		}
		return nil
	}
	deadline := readAt.Add(maxIndexWrite)
	wctx, cancel := context.WithDeadlineCause(ctx, deadline, errIndexWriteLate)
	defer cancel()
	err = rp.PushReference(wctx, desc, bytes.NewReader(data), c.Tag)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		err = errIndexWriteLate
	}
	if err != nil {
		return fmt.Errorf("writing tag %s: %w", c.Tag, bareTimeout(err))
	}
	return nil
}
