package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"
)

// canonScan is referee's own one-pass reader of signed JSON, written
// instead of using encoding/json and go-securesystemslib's cjson for
// speed: those decode a link generically (every path a map key and a map
// of its own), then cjson marshals and decodes it once more, which was
// most of the time and memory of verifying large links (issue 13). In one
// pass over the bytes it checks what CheckJSON checks (UTF-8, no lone
// surrogate escapes, no repeated keys, nesting) and writes the canonical
// form (the OLPC form of securesystemslib: keys sorted, no whitespace,
// only '"' and '\' escaped, integers only).
//
// It only ever accepts: whatever it does not handle exactly as the
// references do (a number that is not a plain integer, a syntax error, a
// document CheckJSON would refuse) makes it give up (errDecline), and the
// caller takes the library path, which also gives the error message.
// canonscan_test.go and FuzzCanonicalJSON compare it with cjson.
type canonScan struct {
	data []byte
	pos  int
	out  []byte
	emit bool // write the canonical form to out
	// members is the scratch of each nesting level's object members.
	members [][]member
	tmp     []byte
	// moved counts the bytes sortMembers has moved, bounded by
	// maxMoved.
	moved int
}

// member is one "key":value of an object, as written to out.
type member struct {
	key        []byte // unescaped
	start, end int    // its span in out
}

// errDecline means the fast reader does not vouch for the document: read
// it with the library path.
var errDecline = errors.New("declined")

// fastCanonical returns the canonical form of data, or errDecline.
func fastCanonical(data []byte) ([]byte, error) {
	s := canonScan{data: data, emit: true, out: make([]byte, 0, len(data))}
	if err := s.document(); err != nil {
		return nil, err
	}
	return s.out, nil
}

func (s *canonScan) document() error {
	s.ws()
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.data) {
		return errDecline
	}
	return nil
}

// peek is the next byte, or 0 at the end.
func (s *canonScan) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *canonScan) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value reads one value at nesting depth (the number of open containers).
func (s *canonScan) value(depth int) error {
	if s.pos >= len(s.data) {
		return errDecline
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth, nil)
	case c == '[':
		return s.array(depth)
	case c == '"':
		str, plain, err := s.str()
		if err != nil {
			return err
		}
		s.writeString(str, plain)
		return nil
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
			s.pos += len(lit)
			if s.emit {
				s.out = append(s.out, lit...)
			}
			return nil
		}
	}
	return errDecline
}

// number accepts an integer literal that cjson writes as it is (it must
// parse as an int64); anything else is declined.
func (s *canonScan) number() error {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	n := s.pos - digits
	if n == 0 || n > 1 && s.data[digits] == '0' || n > 18 {
		return errDecline
	}
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '.', 'e', 'E':
			return errDecline
		}
	}
	if s.emit {
		s.out = append(s.out, s.data[start:s.pos]...)
	}
	return nil
}

// str reads a string and returns its unescaped bytes: a slice of data when
// it has no escapes.
func (s *canonScan) str() (str []byte, plain bool, err error) {
	start := s.pos + 1
	high, escaped := false, false
	i := start
	for ; i < len(s.data); i++ {
		c := s.data[i]
		if c-0x20 < utf8.RuneSelf-0x20 && c != '"' && c != '\\' {
			continue // printable ASCII, nearly all of a link
		}
		if c == '"' {
			break
		}
		switch {
		case c == '\\':
			escaped = true
			i++
		case c < 0x20:
			return nil, false, errDecline
		default:
			high = true
		}
	}
	if i >= len(s.data) {
		return nil, false, errDecline
	}
	raw := s.data[start:i]
	s.pos = i + 1
	if high && !utf8.Valid(raw) {
		return nil, false, errDecline
	}
	if !escaped {
		return raw, true, nil
	}
	// Escapes are rare in links (a byproduct's newline): the library
	// unescapes them, after CheckJSON's own string check (lone
	// surrogates).
	if end, _, err := scanString(s.data, start-1); err != nil || end != i {
		return nil, false, errDecline
	}
	var out string
	if json.Unmarshal(s.data[start-1:i+1], &out) != nil {
		return nil, false, errDecline
	}
	return []byte(out), false, nil
}

// writeString writes str canonically: '\' and '"' escaped, nothing else.
// A plain string (one that had no escapes) has neither.
func (s *canonScan) writeString(str []byte, plain bool) {
	if !s.emit {
		return
	}
	s.out = append(s.out, '"')
	for !plain {
		i := bytes.IndexAny(str, "\\\"")
		if i < 0 {
			break
		}
		s.out = append(s.out, str[:i]...)
		s.out = append(s.out, '\\', str[i])
		str = str[i+1:]
	}
	s.out = append(s.out, str...)
	s.out = append(s.out, '"')
}

func (s *canonScan) array(depth int) error {
	if depth >= maxJSONDepth {
		return errDecline
	}
	s.pos++
	if s.emit {
		s.out = append(s.out, '[')
	}
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		if s.emit {
			s.out = append(s.out, ']')
		}
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return errDecline
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			if s.emit {
				s.out = append(s.out, ',')
			}
		case ']':
			s.pos++
			if s.emit {
				s.out = append(s.out, ']')
			}
			return nil
		default:
			return errDecline
		}
	}
}

// maxUnsorted is how many members an object may have for canonScan to
// sort them.
const maxUnsorted = 64

// memberReader reads the value of one member of an object in place of
// value; hook, given the member's key, returns one, or nil for value.
type memberReader func(depth int) error

func (s *canonScan) object(depth int, hook func(key []byte) memberReader) error {
	if depth >= maxJSONDepth {
		return errDecline
	}
	s.pos++
	if s.emit {
		s.out = append(s.out, '{')
	}
	for len(s.members) <= depth {
		s.members = append(s.members, nil)
	}
	ms := s.members[depth][:0]
	defer func() { s.members[depth] = ms[:0] }()
	sorted, count, prev := true, 0, []byte(nil)
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		if s.emit {
			s.out = append(s.out, '}')
		}
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return errDecline
		}
		if count > 0 && s.emit {
			s.out = append(s.out, ',')
		}
		m := member{start: len(s.out)}
		key, plain, err := s.str()
		if err != nil {
			return err
		}
		m.key = key
		if count > 0 {
			switch c := bytes.Compare(prev, key); {
			case c == 0:
				return errDecline // a repeated key
			case c > 0 && count > maxUnsorted:
				// Sorting needs every member's span, kept only for
				// the first few: large objects come sorted from the
				// references and referee (Go and Python sort map
				// keys), and others take the library path.
				return errDecline
			case c > 0:
				sorted = false
			}
		}
		prev = key
		if count++; !sorted && count > maxUnsorted {
			return errDecline
		}
		s.writeString(key, plain)
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return errDecline
		}
		s.pos++
		if s.emit {
			s.out = append(s.out, ':')
		}
		s.ws()
		read := s.value
		if hook != nil {
			if r := hook(key); r != nil {
				read = r
			}
		}
		if err := read(depth + 1); err != nil {
			return err
		}
		m.end = len(s.out)
		if count <= maxUnsorted {
			ms = append(ms, m)
		}
		s.ws()
		if s.pos >= len(s.data) {
			return errDecline
		}
		if s.data[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.data[s.pos] != '}' {
			return errDecline
		}
		s.pos++
		break
	}
	if !sorted {
		if err := s.sortMembers(ms); err != nil {
			return err
		}
	}
	if s.emit {
		s.out = append(s.out, '}')
	}
	return nil
}

// sortMembers puts an object's members, written in the order they came,
// in the canonical order of their keys (bytewise, as Go's sort.Strings in
// cjson), refusing a repeated key. It sorts by swapping neighbours in
// place, keeping aside only the smaller of the two: a link's own fields
// come in the references' struct order, and moving its few small ones past
// its materials and products this way needs no copy of the document.
func (s *canonScan) sortMembers(ms []member) error {
	sortedKeys := make([][]byte, len(ms))
	for i, m := range ms {
		sortedKeys[i] = m.key
	}
	slices.SortFunc(sortedKeys, bytes.Compare)
	for i := 1; i < len(sortedKeys); i++ {
		if bytes.Equal(sortedKeys[i-1], sortedKeys[i]) {
			return errDecline
		}
	}
	if !s.emit {
		return nil
	}
	// Insertion sort of the members' spans; ms stays in the order of
	// out, each span [start, end) followed by a ',' but the last.
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && bytes.Compare(ms[j-1].key, ms[j].key) > 0; j-- {
			// Each swap moves both members: objects nested deep, each
			// with a large member to move past many, would move the
			// document thousands of times over.
			if s.moved += ms[j].end - ms[j-1].start; s.moved > s.maxMoved() {
				return errDecline
			}
			s.swap(ms, j-1)
		}
	}
	return nil
}

// maxMoved bounds what sortMembers moves in one document: a few times its
// size (a link in in-toto-golang's field order moves its materials and
// products about four times) before the library path, which is linear,
// takes it.
func (s *canonScan) maxMoved() int { return 8*len(s.data) + 1<<20 }

// swap exchanges the neighbouring members ms[i] and ms[i+1] in out.
func (s *canonScan) swap(ms []member, i int) {
	a, b := ms[i], ms[i+1]
	la, lb := a.end-a.start, b.end-b.start
	region := s.out[a.start:b.end] // a ',' b
	if la <= lb {
		s.tmp = append(s.tmp[:0], region[:la]...)
		copy(region, region[la+1:])
		region[lb] = ','
		copy(region[lb+1:], s.tmp)
	} else {
		s.tmp = append(s.tmp[:0], region[la+1:]...)
		copy(region[lb+1:], region[:la])
		region[lb] = ','
		copy(region, s.tmp)
	}
	ms[i] = member{key: b.key, start: a.start, end: a.start + lb}
	ms[i+1] = member{key: a.key, start: a.start + lb + 1, end: b.end}
}
