package check

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// explainComprehension says why a quantifier (all, exists, exists_one)
// has the value v: the element that decided, its predicate evaluated
// again for it and explained; a cel.bind by its body.
func (f *frame) explainComprehension(e ast.Expr, v ref.Val, depth int) string {
	c := e.AsComprehension()
	q := quantifierOf(f.info(), e)
	if q == nil {
		if c.IterVar() == "#unused" && c.AccuVar() != "" {
			// cel.bind(x, init, body): body, with x bound.
			g := f.bind(c.AccuVar(), c.AccuInit())
			return g.explain(c.Result(), v, depth)
		}
		return ""
	}
	pred := f.u.preds[e.ID()]
	rng, ok := f.value(c.IterRange())
	if !ok {
		return ""
	}
	name := f.text(c.IterRange())
	n := count(rng)
	switch {
	case q.kind == "all" && v == types.True:
		return fmt.Sprintf("all %s of %s satisfy it", n, name)
	case q.kind == "exists" && v == types.False:
		return fmt.Sprintf("none of the %s of %s does", n, name)
	case pred == nil:
		return ""
	}
	var hits []element
	f.each(c, rng, pred, func(el element, out ref.Val) bool {
		switch {
		case q.kind == "all" && out == types.False, q.kind == "exists" && out == types.True:
			hits = append(hits, el.keep())
			return false
		case q.kind == "exists_one" && out == types.True:
			hits = append(hits, el.keep())
		}
		return true
	})
	switch {
	case q.kind == "exists_one" && len(hits) != 1:
		var at []string
		for _, h := range hits[:min(len(hits), 3)] {
			at = append(at, name+h.index)
		}
		if len(hits) == 0 {
			return fmt.Sprintf("none of the %s of %s does", n, name)
		}
		return fmt.Sprintf("%d of the %s of %s do: %s", len(hits), n, name, strings.Join(at, ", "))
	case len(hits) == 0:
		return ""
	}
	return f.forElement(c, name, pred, hits[0], depth)
}

// forElement explains pred for one element: "for v = R[3] = {...}, P is
// false: ...".
func (f *frame) forElement(c ast.ComprehensionExpr, name string, pred *unit, el element, depth int) string {
	g, out, err := f.evalTraced(pred, el.act)
	if err != nil && !types.IsError(out) {
		return ""
	}
	root := pred.ast.NativeRep().Expr()
	return fmt.Sprintf("for %s, %s", el.describe(c, name), g.clause(root, out, depth))
}

// element is one element of a quantifier's range, with the activation
// that binds it.
type element struct {
	index string // "[3]" or `["key"]`
	key   ref.Val
	value ref.Val // nil over a map with one variable
	act   *scope
}

// keep is el with a scope of its own, to keep past the next element.
func (el element) keep() element {
	el.act = el.act.clone()
	return el
}

func (el element) describe(c ast.ComprehensionExpr, name string) string {
	switch {
	case c.HasIterVar2() && el.value != nil:
		return fmt.Sprintf("%s, %s = %s, %s%s = %s", c.IterVar(), c.IterVar2(), show(el.key), name, el.index, show(el.value))
	case el.value == nil:
		return fmt.Sprintf("%s = %s (a key of %s)", c.IterVar(), show(el.key), name)
	}
	return fmt.Sprintf("%s = %s%s = %s", c.IterVar(), name, el.index, show(el.value))
}

// each evaluates pred for the elements of rng in order (a map's keys
// sorted) until yield returns false, the cost budget is spent or the
// context is done.
func (f *frame) each(c ast.ComprehensionExpr, rng ref.Val, pred *unit, yield func(element, ref.Val) bool) {
	// One scope serves every element; a hit is given a copy.
	sc := &scope{parent: f.act, names: []string{c.IterVar()}, vals: []any{nil}}
	if c.HasIterVar2() {
		sc.names, sc.vals = []string{c.IterVar(), c.IterVar2()}, []any{nil, nil}
	}
	bind := func(k, v ref.Val) element {
		switch {
		case c.HasIterVar2():
			sc.vals[0], sc.vals[1] = k, v
		case v != nil:
			sc.vals[0] = v
		default:
			sc.vals[0] = k
		}
		return element{key: k, value: v, act: sc}
	}
	var els func(yield func(element) bool)
	switch r := rng.(type) {
	case traits.Mapper:
		keys := mapKeys(r)
		els = func(yield func(element) bool) {
			for _, k := range keys {
				var v ref.Val
				if c.HasIterVar2() {
					v = r.Get(k)
				}
				el := bind(k, v)
				el.index = "[" + show(k) + "]"
				if !yield(el) {
					return
				}
			}
		}
	case traits.Lister:
		n, _ := r.Size().(types.Int)
		els = func(yield func(element) bool) {
			for i := types.Int(0); i < n; i++ {
				el := bind(i, r.Get(i))
				el.index = fmt.Sprintf("[%d]", i)
				if !yield(el) {
					return
				}
			}
		}
	default:
		return
	}
	for el := range els {
		if f.x.ctx.Err() != nil || f.x.budget == 0 {
			return
		}
		out, det, _ := pred.fast.ContextEval(f.x.ctx, el.act)
		f.x.spend(det)
		if out == nil {
			return
		}
		if !yield(el, out) {
			return
		}
	}
}

// evalTraced evaluates u over act, recording values, as a frame to explain.
func (f *frame) evalTraced(u *unit, act interpreter.Activation) (*frame, ref.Val, error) {
	out, det, err := u.traced.ContextEval(f.x.ctx, act)
	f.x.spend(det)
	g := &frame{x: f.x, u: u, act: act}
	if det != nil {
		g.state = det.State()
	}
	return g, out, err
}

func (x *explainer) spend(det interface{ ActualCost() *uint64 }) {
	var c uint64 = MaxCost
	if det != nil {
		if p := det.ActualCost(); p != nil {
			c = *p + 1
		}
	}
	x.budget -= min(c, x.budget)
}

func mapKeys(m traits.Mapper) []ref.Val {
	var keys []ref.Val
	for it := m.Iterator(); it.HasNext() == types.True; {
		keys = append(keys, it.Next())
	}
	slices.SortFunc(keys, func(a, b ref.Val) int {
		if c, ok := a.(traits.Comparer); ok && a.Type() == b.Type() {
			if r, ok := c.Compare(b).(types.Int); ok {
				return int(r)
			}
		}
		return strings.Compare(show(a), show(b))
	})
	return keys
}

// count says how many elements (or keys, of a map) v has.
func count(v ref.Val) string {
	what := "elements"
	if _, ok := v.(traits.Mapper); ok {
		what = "keys"
	}
	s, ok := v.(traits.Sizer)
	if !ok {
		return what
	}
	n, _ := s.Size().(types.Int)
	if n == 1 {
		return "1 " + strings.TrimSuffix(what, "s")
	}
	return fmt.Sprintf("%d %s", n, what)
}
