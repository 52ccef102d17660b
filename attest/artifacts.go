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
// verifying large links: the paths in sorted order, SHA-256 digests as 32
// bytes, and a hashed index from path to entry. A link's map[string]HashObj
// costs a few hundred bytes an entry (a map of its own for each path);
// this costs about 80. Entries whose hashes are other than one lowercase
// "sha256" keep their HashObj. It is read-only once built.
//
// Entries are stored in chunks of chunkSize, so that building a table of
// 100,000 entries never copies what it has built (as growing one slice
// would, several times over).
type Artifacts struct {
	n     int
	names []string // chunk c: the paths of its entries, concatenated
	ends  []uint32 // ends[i] is where path i ends in its chunk
	sums  [][]byte // chunk c: 32 bytes an entry, its sha256 (zero for entries in other)
	other map[int32]HashObj
	index []int32 // open addressing: entry+1 by hash of its path; 0 is empty
	seed  maphash.Seed
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
)

// artifactsBuilder collects entries in the order a link lists them.
type artifactsBuilder struct {
	a      Artifacts
	buf    []byte // the paths of the chunk being filled
	sorted bool
	last   []byte
}

func newArtifactsBuilder() *artifactsBuilder { return &artifactsBuilder{sorted: true} }

// add appends an entry: its sha256 digest in hex (lowercase, 64 digits),
// or else all its hashes in h.
func (b *artifactsBuilder) add(path []byte, sha256Hex []byte, h HashObj) {
	if b.a.n > 0 && bytes.Compare(b.last, path) >= 0 {
		b.sorted = false
	}
	b.last = append(b.last[:0], path...)
	i := b.a.n
	if i%chunkSize == 0 {
		if i > 0 {
			b.a.names = append(b.a.names, string(b.buf))
			b.buf = b.buf[:0]
		}
		// The first chunk grows as entries come: most links record a
		// few artifacts, and a whole chunk is 32 KiB.
		room := 32 * chunkSize
		if i == 0 {
			room = 32 * 8
		}
		b.a.sums = append(b.a.sums, make([]byte, 0, room))
	}
	b.buf = append(b.buf, path...)
	b.a.ends = append(b.a.ends, uint32(len(b.buf)))
	c := len(b.a.sums) - 1
	at := len(b.a.sums[c])
	b.a.sums[c] = append(b.a.sums[c], make([]byte, 32)...)
	b.a.n++
	if h != nil {
		if b.a.other == nil {
			b.a.other = map[int32]HashObj{}
		}
		b.a.other[int32(i)] = h
		return
	}
	// sha256Hex is 64 lowercase hex digits (soleSHA256, IsSHA256Hex).
	_, _ = hex.Decode(b.a.sums[c][at:], sha256Hex)
}

// build finishes the table; it returns nil if two entries have one path.
func (b *artifactsBuilder) build() *Artifacts {
	if b.a.n > 0 {
		b.a.names = append(b.a.names, string(b.buf))
	}
	a := &b.a
	if c := len(a.sums) - 1; c >= 0 {
		a.sums[c] = slices.Clip(slices.Clone(a.sums[c]))
	}
	// The table is kept while verification lasts: not the room append
	// left in its slices.
	a.ends = clipSlice(a.ends)
	a.seed = maphash.MakeSeed()
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

// clipSlice returns s without spare capacity beyond an eighth.
func clipSlice[T any](s []T) []T {
	if cap(s)-len(s) > len(s)/8 {
		return slices.Clone(s)
	}
	return s
}

// SharePaths makes a use b's paths and their index when both list the
// same paths, so that the links of a chain recording the same files keep
// one copy of their names; it reports whether they did. Call it before a
// is shared with other goroutines.
func (a *Artifacts) SharePaths(b *Artifacts) bool {
	if a == nil || b == nil || a.n != b.n || len(a.names) != len(b.names) || !slices.Equal(a.ends, b.ends) || !slices.Equal(a.names, b.names) {
		return false
	}
	a.names, a.ends, a.index, a.seed = b.names, b.ends, b.index, b.seed
	return true
}

// SamePaths reports whether a and b are known to list the same paths,
// in the same order, without comparing them: they are one table, or one
// took the other's paths (SharePaths). Entry i of one is then the entry
// of the same path in the other.
func (a *Artifacts) SamePaths(b *Artifacts) bool {
	switch {
	case a == nil || b == nil || a.n != b.n:
		return false
	case a == b || a.n == 0:
		return true
	}
	return len(a.names) == len(b.names) && len(a.ends) == len(b.ends) && &a.names[0] == &b.names[0] && &a.ends[0] == &b.ends[0]
}

// sorted returns the table with its entries in path order.
func (a *Artifacts) sorted() *Artifacts {
	order := make([]int, a.Len())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(a.Path(x), a.Path(y)) })
	b := newArtifactsBuilder()
	for _, i := range order {
		if h, ok := a.other[int32(i)]; ok {
			b.add([]byte(a.Path(i)), nil, h)
		} else {
			b.add([]byte(a.Path(i)), []byte(hex.EncodeToString(a.sum(i))), nil)
		}
	}
	b.build()
	return &b.a
}

// sum is the sha256 of entry i.
func (a *Artifacts) sum(i int) []byte {
	off := 32 * (i & (chunkSize - 1))
	return a.sums[i>>chunkBits][off : off+32]
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
	return a.n
}

// Path is the path of entry i; entries are in path order.
func (a *Artifacts) Path(i int) string {
	start := uint32(0)
	if i&(chunkSize-1) != 0 {
		start = a.ends[i-1]
	}
	return a.names[i>>chunkBits][start:a.ends[i]]
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
	return HashObj{"sha256": hex.EncodeToString(a.sum(i))}
}

// SameHashes reports whether entry i of a and entry j of b record the same
// hashes, as the references compare them: equal hash objects.
func (a *Artifacts) SameHashes(i int, b *Artifacts, j int) bool {
	ha, oa := a.other[int32(i)]
	hb, ob := b.other[int32(j)]
	switch {
	case !oa && !ob:
		return bytes.Equal(a.sum(i), b.sum(j))
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
