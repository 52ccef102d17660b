package attest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// oNode is a JSON value that keeps its objects' key order and allows keys
// that differ only in case, for building hostile documents.
type oNode struct {
	kind  byte // '{', '[' or 0 for a scalar
	keys  []string
	vals  []*oNode
	elems []*oNode
	raw   []byte
}

func oParse(t testing.TB, data []byte) *oNode {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var read func() *oNode
	read = func() *oNode {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			n := &oNode{kind: byte(v)}
			for dec.More() {
				if n.kind == '{' {
					k, err := dec.Token()
					if err != nil {
						t.Fatal(err)
					}
					n.keys = append(n.keys, k.(string))
					n.vals = append(n.vals, read())
				} else {
					n.elems = append(n.elems, read())
				}
			}
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			return n
		case json.Number:
			return &oNode{raw: []byte(v)}
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return &oNode{raw: b}
		}
	}
	return read()
}

func (n *oNode) clone() *oNode {
	c := &oNode{kind: n.kind, keys: append([]string(nil), n.keys...), raw: n.raw}
	for _, v := range n.vals {
		c.vals = append(c.vals, v.clone())
	}
	for _, e := range n.elems {
		c.elems = append(c.elems, e.clone())
	}
	return c
}

// at follows path: object keys (string) and list indexes (int).
func (n *oNode) at(path ...any) *oNode {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			found := false
			for i, k := range n.keys {
				if k == p {
					n, found = n.vals[i], true
					break
				}
			}
			if !found {
				panic(fmt.Sprintf("no key %q", p))
			}
		case int:
			n = n.elems[p]
		}
	}
	return n
}

// insert adds key: val before position i (or at the end).
func (n *oNode) insert(i int, key string, val *oNode) {
	n.keys = append(n.keys[:i:i], append([]string{key}, n.keys[i:]...)...)
	n.vals = append(n.vals[:i:i], append([]*oNode{val}, n.vals[i:]...)...)
}

func (n *oNode) set(key string, val *oNode) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = val
			return
		}
	}
	n.insert(len(n.keys), key, val)
}

func (n *oNode) bytes() []byte {
	var b bytes.Buffer
	n.write(&b)
	return b.Bytes()
}

func (n *oNode) write(b *bytes.Buffer) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			n.vals[i].write(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}
