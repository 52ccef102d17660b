package oci

import (
	"encoding/json"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The image config of cosign's .att manifest, kept naming the manifest's
// layers when CosignCopy writes one with other layers than its source.

// zeroHistory is the history entry cosign (go-containerregistry's
// mutate.Append) records for each layer it adds.
var zeroHistory = json.RawMessage(`{"created":"0001-01-01T00:00:00Z"}`)

// cosignHistory maps each of layers to its entry of config's history,
// where the history has one per layer, as cosign's does.
func cosignHistory(config []byte, layers []ocispec.Descriptor) map[digest.Digest]json.RawMessage {
	out := map[digest.Digest]json.RawMessage{}
	var c struct {
		History []json.RawMessage `json:"history"`
	}
	if json.Unmarshal(config, &c) != nil || len(c.History) != len(layers) {
		return out
	}
	for i, l := range layers {
		out[l.Digest] = c.History[i]
	}
	return out
}

// cosignConfig returns base, the image config of a .att manifest as
// cosign writes it, made to name layers: rootfs.diff_ids their digests
// (cosign's layers are not compressed) and one history entry each (from
// history, or cosign's zero one); its other fields are kept. base is
// returned as it is where it names them already, or is not such a config.
func cosignConfig(base []byte, layers []ocispec.Descriptor, history map[digest.Digest]json.RawMessage) []byte {
	var cfg map[string]json.RawMessage
	var rootfs map[string]json.RawMessage
	if json.Unmarshal(base, &cfg) != nil || cfg == nil || json.Unmarshal(cfg["rootfs"], &rootfs) != nil || rootfs == nil {
		return base
	}
	var old []digest.Digest
	_ = json.Unmarshal(rootfs["diff_ids"], &old)
	ids := make([]digest.Digest, len(layers))
	hist := make([]json.RawMessage, len(layers))
	for i, l := range layers {
		ids[i] = l.Digest
		if hist[i] = history[l.Digest]; hist[i] == nil {
			hist[i] = zeroHistory
		}
	}
	if slices.Equal(old, ids) {
		return base
	}
	var err error
	if rootfs["diff_ids"], err = json.Marshal(ids); err != nil {
		return base
	}
	if cfg["rootfs"], err = json.Marshal(rootfs); err != nil {
		return base
	}
	if cfg["history"], err = json.Marshal(hist); err != nil {
		return base
	}
	out, err := marshalJSON(cfg)
	if err != nil {
		return base
	}
	return out
}
