package check

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// How much an explanation says.
const (
	maxReason       = 1000 // runes of a Reason
	maxShown        = 120  // bytes of one value, runes of one sub-expression
	maxExplainDepth = 12   // nested clauses
)

// explainer is shared by the frames of one explanation: the context and
// the cost left for evaluating quantifiers' predicates again, element by
// element, to find the one that decided.
type explainer struct {
	ctx    context.Context
	budget uint64
}

// frame is one evaluated unit: its recorded values (cel.OptTrackState)
// and the variables it was evaluated with. Outside the comprehensions of a
// unit every recorded value is of this evaluation; inside them a value may
// be of an earlier iteration, so a quantifier is explained by evaluating
// its predicate again, as a unit of its own, for the element that decided.
type frame struct {
	x     *explainer
	u     *unit
	state interpreter.EvalState
	act   interpreter.Activation
}

// scope binds variables over a parent activation.
type scope struct {
	parent interpreter.Activation
	names  []string
	vals   []any
}

func (s *scope) ResolveName(name string) (any, bool) {
	for i := len(s.names) - 1; i >= 0; i-- {
		if s.names[i] == name {
			return s.vals[i], true
		}
	}
	return s.parent.ResolveName(name)
}

func (s *scope) Parent() interpreter.Activation { return s.parent }

func (s *scope) clone() *scope {
	return &scope{parent: s.parent, names: s.names, vals: slices.Clone(s.vals)}
}

func (f *frame) info() *ast.SourceInfo { return f.u.ast.NativeRep().SourceInfo() }

// value is what e evaluated to, if it was recorded.
func (f *frame) value(e ast.Expr) (ref.Val, bool) {
	if f.state != nil {
		if v, ok := f.state.Value(e.ID()); ok {
			return v, true
		}
	}
	if e.Kind() == ast.IdentKind {
		if v, ok := f.act.ResolveName(e.AsIdent()); ok {
			return types.DefaultTypeAdapter.NativeToValue(v), true
		}
	}
	return nil, false
}

// text is e as CEL source, cut short.
func (f *frame) text(e ast.Expr) string {
	s, err := parser.Unparse(e, f.info())
	if err != nil {
		return "(the sub-expression)"
	}
	return clip(oneLine(s), maxShown)
}

// clause says that e is v, and why.
func (f *frame) clause(e ast.Expr, v ref.Val, depth int) string {
	s := f.text(e) + " is " + show(v)
	if why := f.explain(e, v, depth+1); why != "" {
		s += ": " + why
	}
	return s
}

// explain says why e evaluated to v, or "" when its operands say no more.
func (f *frame) explain(e ast.Expr, v ref.Val, depth int) string {
	if depth > maxExplainDepth || types.IsError(v) {
		return ""
	}
	switch e.Kind() {
	case ast.CallKind:
		return f.explainCall(e, v, depth)
	case ast.ComprehensionKind:
		return f.explainComprehension(e, v, depth)
	}
	return ""
}

func (f *frame) explainCall(e ast.Expr, v ref.Val, depth int) string {
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case operators.LogicalAnd, operators.LogicalOr:
		// One operand of the deciding value decides (&& false, || true):
		// the first, which was evaluated in this evaluation. Otherwise all
		// did.
		decisive := types.Bool(c.FunctionName() == operators.LogicalOr)
		var parts []string
		for _, a := range args {
			av, ok := f.value(a)
			if !ok {
				continue
			}
			if v == decisive && av == decisive {
				return f.clause(a, av, depth)
			}
			parts = append(parts, f.clause(a, av, depth))
		}
		return strings.Join(parts, "; ")
	case operators.LogicalNot:
		if av, ok := f.value(args[0]); ok {
			return f.clause(args[0], av, depth)
		}
		return ""
	case operators.Conditional:
		cv, ok := f.value(args[0])
		if !ok {
			return ""
		}
		s := f.clause(args[0], cv, depth)
		branch := args[2]
		if cv == types.True {
			branch = args[1]
		}
		if bv, ok := f.value(branch); ok {
			s += "; " + f.clause(branch, bv, depth)
		}
		return s
	}
	return f.operands(e, depth)
}

// operands shows the values of the operands of a call that are not
// literals: `v.severity is "CRITICAL"` for v.severity != "CRITICAL".
func (f *frame) operands(e ast.Expr, depth int) string {
	var parts []string
	for _, op := range children(e) {
		if literal(op) {
			continue
		}
		ov, ok := f.value(op)
		if !ok {
			continue
		}
		s := f.text(op) + " is " + show(ov)
		if op.Kind() == ast.CallKind && depth < 2 {
			if why := f.operands(op, depth+1); why != "" {
				s += " (" + why + ")"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// literal reports whether e is a constant, or a list or map of them.
func literal(e ast.Expr) bool {
	switch e.Kind() {
	case ast.LiteralKind:
		return true
	case ast.ListKind, ast.MapKind:
		return !slices.ContainsFunc(children(e), func(c ast.Expr) bool { return !literal(c) })
	}
	return false
}

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

// where names the sub-expression whose evaluation failed, with the
// element of each quantifier on the way, or "".
func (f *frame) where(e ast.Expr, depth int) string {
	if depth > maxExplainDepth {
		return ""
	}
	if e.Kind() == ast.ComprehensionKind {
		c := e.AsComprehension()
		if c.IterVar() == "#unused" {
			if v, ok := f.value(c.AccuInit()); ok && types.IsError(v) {
				return f.where(c.AccuInit(), depth+1)
			}
			return f.bind(c.AccuVar(), c.AccuInit()).where(c.Result(), depth+1)
		}
		if v, ok := f.value(c.IterRange()); ok && types.IsError(v) {
			return f.where(c.IterRange(), depth+1)
		}
		pred := f.u.preds[e.ID()]
		rng, ok := f.value(c.IterRange())
		if pred == nil || !ok {
			return f.text(e)
		}
		var hit *element
		f.each(c, rng, pred, func(el element, out ref.Val) bool {
			if types.IsError(out) {
				kept := el.keep()
				hit = &kept
				return false
			}
			return true
		})
		if hit == nil {
			return f.text(e)
		}
		g, _, _ := f.evalTraced(pred, hit.act)
		at := g.where(pred.ast.NativeRep().Expr(), depth+1)
		return fmt.Sprintf("%s for %s", at, hit.describe(c, f.text(c.IterRange())))
	}
	for _, ch := range children(e) {
		if v, ok := f.value(ch); ok && types.IsError(v) {
			return f.where(ch, depth+1)
		}
	}
	if e.Kind() == ast.CallKind {
		// The operands, of the types that may not have matched.
		var parts []string
		for _, op := range children(e) {
			if ov, ok := f.value(op); ok && !literal(op) {
				parts = append(parts, fmt.Sprintf("%s is %s, of type %s", f.text(op), show(ov), ov.Type().TypeName()))
			}
		}
		if len(parts) > 0 {
			return f.text(e) + " (" + strings.Join(parts, "; ") + ")"
		}
	}
	return f.text(e)
}

// bind is f with the variable name bound to the value of init.
func (f *frame) bind(name string, init ast.Expr) *frame {
	g := *f
	if v, ok := f.value(init); ok {
		g.act = &scope{parent: f.act, names: []string{name}, vals: []any{v}}
	}
	return &g
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
