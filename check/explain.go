package check

import (
	"context"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
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

// bind is f with the variable name bound to the value of init.
func (f *frame) bind(name string, init ast.Expr) *frame {
	g := *f
	if v, ok := f.value(init); ok {
		g.act = &scope{parent: f.act, names: []string{name}, vals: []any{v}}
	}
	return &g
}
