package attest

import (
	"bytes"
	"encoding/hex"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
)

// Artifacts is a link's materials or products in compact form, for
// verifying large links: the paths in one string in sorted order, SHA-256
// digests as 32 bytes, and a hashed index from path to entry. A link's
// map[string]HashObj costs a few hundred bytes an entry (a map of its own
// for each path); this costs about 50. Entries whose hashes are other than
// one lowercase "sha256" keep their HashObj. It is read-only once built.
type Artifacts struct {
	names string   // the paths, concatenated in sorted order
	ends  []uint32 // ends[i] is where path i ends in names
	sums  []byte   // 32 bytes an entry: its sha256 (zero for entries in other)
	other map[int32]HashObj
	index []int32 // open addressing: entry+1 by hash of its path; 0 is empty
	seed  maphash.Seed
}

// artifactsBuilder collects entries in the order a link lists them.
type artifactsBuilder struct {
	names  []byte
	ends   []uint32
	sums   []byte
	other  map[int32]HashObj
	sorted bool
	last   []byte
}

func newArtifactsBuilder() *artifactsBuilder { return &artifactsBuilder{sorted: true} }

// add appends an entry: its sha256 digest in hex (lowercase, 64 digits),
// or else all its hashes in h.
func (b *artifactsBuilder) add(path []byte, sha256Hex []byte, h HashObj) bool {
	start := len(b.names)
	b.names = append(b.names, path...)
	if len(b.ends) > 0 && bytes.Compare(b.last, path) >= 0 {
		b.sorted = false
	}
	b.last = b.names[start:]
	b.ends = append(b.ends, uint32(len(b.names)))
	at := len(b.sums)
	b.sums = append(b.sums, make([]byte, 32)...)
	if h != nil {
		if b.other == nil {
			b.other = map[int32]HashObj{}
		}
		b.other[int32(len(b.ends)-1)] = h
		return true
	}
	_, err := hex.Decode(b.sums[at:], sha256Hex)
	return err == nil
}

// build finishes the table; it returns nil if two entries have one path.
func (b *artifactsBuilder) build() *Artifacts {
	a := &Artifacts{names: string(b.names), ends: b.ends, sums: b.sums, other: b.other, seed: maphash.MakeSeed()}
	if !b.sorted {
		a = a.sorted()
	}
	for i := 1; i < a.Len(); i++ {
		if a.Path(i-1) == a.Path(i) {
			return nil
		}
	}
	a.buildIndex()
	return a
}

// sorted returns the table with its entries in path order.
func (a *Artifacts) sorted() *Artifacts {
	order := make([]int32, a.Len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(x, y int32) int { return strings.Compare(a.Path(int(x)), a.Path(int(y))) })
	var b strings.Builder
	b.Grow(len(a.names))
	out := &Artifacts{ends: make([]uint32, 0, len(order)), sums: make([]byte, 0, len(a.sums)), seed: a.seed}
	for _, i := range order {
		b.WriteString(a.Path(int(i)))
		out.ends = append(out.ends, uint32(b.Len()))
		out.sums = append(out.sums, a.sums[32*i:32*i+32]...)
		if h, ok := a.other[i]; ok {
			if out.other == nil {
				out.other = map[int32]HashObj{}
			}
			out.other[int32(len(out.ends)-1)] = h
		}
	}
	out.names = b.String()
	return out
}

func (a *Artifacts) buildIndex() {
	size := 8
	for size < 2*a.Len() {
		size *= 2
	}
	a.index = make([]int32, size)
	mask := uint64(size - 1)
	for i := range a.Len() {
		h := maphash.String(a.seed, a.Path(i)) & mask
		for a.index[h] != 0 {
			h = (h + 1) & mask
		}
		a.index[h] = int32(i + 1)
	}
}

// NewArtifacts makes the compact form of a link's materials or products.
func NewArtifacts(m map[string]HashObj) *Artifacts {
	b := newArtifactsBuilder()
	for _, p := range slices.Sorted(maps.Keys(m)) {
		h := m[p]
		if d, ok := h["sha256"]; ok && len(h) == 1 && IsSHA256Hex(d) {
			b.add([]byte(p), []byte(d), nil)
		} else {
			b.add([]byte(p), nil, maps.Clone(h))
		}
	}
	return b.build()
}

// Len is the number of entries.
func (a *Artifacts) Len() int {
	if a == nil {
		return 0
	}
	return len(a.ends)
}

// Path is the path of entry i; entries are in path order.
func (a *Artifacts) Path(i int) string {
	start := uint32(0)
	if i > 0 {
		start = a.ends[i-1]
	}
	return a.names[start:a.ends[i]]
}

// Find returns the entry of path, or -1.
func (a *Artifacts) Find(path string) int {
	if a.Len() == 0 {
		return -1
	}
	mask := uint64(len(a.index) - 1)
	for h := maphash.String(a.seed, path) & mask; a.index[h] != 0; h = (h + 1) & mask {
		if i := int(a.index[h] - 1); a.Path(i) == path {
			return i
		}
	}
	return -1
}

// Hashes returns the hashes of entry i as the link records them.
func (a *Artifacts) Hashes(i int) HashObj {
	if h, ok := a.other[int32(i)]; ok {
		return maps.Clone(h)
	}
	return HashObj{"sha256": hex.EncodeToString(a.sums[32*i : 32*i+32])}
}

// SameHashes reports whether entry i of a and entry j of b record the same
// hashes, as the references compare them: equal hash objects.
func (a *Artifacts) SameHashes(i int, b *Artifacts, j int) bool {
	ha, oa := a.other[int32(i)]
	hb, ob := b.other[int32(j)]
	switch {
	case !oa && !ob:
		return string(a.sums[32*i:32*i+32]) == string(b.sums[32*j:32*j+32])
	case oa && ob:
		return maps.Equal(ha, hb)
	}
	return false
}

// Map returns the entries as a link's map of paths to hashes.
func (a *Artifacts) Map() map[string]HashObj {
	m := make(map[string]HashObj, a.Len())
	for i := range a.Len() {
		m[a.Path(i)] = a.Hashes(i)
	}
	return m
}
