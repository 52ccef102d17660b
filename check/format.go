package check

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// maxShownKeys is the most keys of a map that show sorts to show some.
const maxShownKeys = 256

// show writes a CEL value as JSON-like text, cut short at maxShown runes:
// strings quoted, objects with their keys sorted.
func show(v ref.Val) string {
	w := &shortWriter{room: maxShown}
	write(w, v, 0)
	return w.String()
}

// shortWriter keeps the first room bytes written and notes that more
// was cut.
type shortWriter struct {
	strings.Builder
	room int
	cut  bool
}

func (w *shortWriter) full() bool { return w.cut }

func (w *shortWriter) put(s string) {
	if w.cut {
		return
	}
	if len(s) > w.room {
		// Cut on a rune boundary.
		n := w.room
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		w.WriteString(s[:n])
		w.WriteString("…")
		w.room, w.cut = 0, true
		return
	}
	w.WriteString(s)
	w.room -= len(s)
}

func write(w *shortWriter, v ref.Val, depth int) {
	if w.full() {
		return
	}
	if depth > 8 {
		w.put("…")
		return
	}
	switch x := v.(type) {
	case nil:
		w.put("nothing")
	case types.String:
		w.put(strconv.Quote(string(x)))
	case types.Bool:
		w.put(strconv.FormatBool(bool(x)))
	case types.Int:
		w.put(strconv.FormatInt(int64(x), 10))
	case types.Uint:
		w.put(strconv.FormatUint(uint64(x), 10))
	case types.Double:
		w.put(strconv.FormatFloat(float64(x), 'g', -1, 64))
	case types.Null:
		w.put("null")
	case *types.Err:
		w.put("an error (" + oneLine(x.Error()) + ")")
	case traits.Mapper:
		if n, _ := x.Size().(types.Int); n > maxShownKeys {
			// Not worth sorting for the few shown.
			w.put(fmt.Sprintf("{%d keys}", n))
			return
		}
		w.put("{")
		for i, k := range mapKeys(x) {
			if w.full() {
				return
			}
			if i > 0 {
				w.put(", ")
			}
			write(w, k, depth+1)
			w.put(": ")
			write(w, x.Get(k), depth+1)
		}
		w.put("}")
	case traits.Lister:
		w.put("[")
		n, _ := x.Size().(types.Int)
		for i := types.Int(0); i < n && !w.full(); i++ {
			if i > 0 {
				w.put(", ")
			}
			write(w, x.Get(i), depth+1)
		}
		w.put("]")
	default:
		w.put(clip(oneLine(fmt.Sprint(v)), maxShown))
	}
}

// clip cuts s to n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
