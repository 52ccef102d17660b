package check

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/parser"
)

// Bounds on an evaluation. An expression that reads each entry of a
// document a few times costs about 6 units an entry, so a report of
// MaxDocumentBytes stays below MaxCost; one that compares every entry with
// every other is stopped, after about a second.
const (
	// MaxExpressionBytes is the longest expression Compile takes.
	MaxExpressionBytes = 16 << 10
	// MaxCost is the CEL cost limit of one evaluation (cel.CostLimit): about
	// one unit per value read and per operation, the budget Kubernetes
	// gives the validations of one admission policy. Beyond it the
	// evaluation fails with an *EvalError.
	MaxCost = 10_000_000
	// MaxRangeSize is the longest list lists.range(n) builds.
	MaxRangeSize = 1 << 16
	// interruptEvery is how many comprehension iterations run between two
	// looks at the context.
	interruptEvery = 100
)

// Program is a compiled check: a CEL expression over input and statement
// whose value is a bool. It is safe for concurrent use.
type Program struct {
	source string
	root   *unit
}

// unit is one evaluable expression with what explains its value: the
// whole expression, or the predicate of one of its quantifiers (all,
// exists, exists_one), compiled on its own over the iteration variables so
// that it can be evaluated again for one element.
type unit struct {
	ast    *cel.Ast
	fast   cel.Program // without state tracking, for one element
	traced cel.Program // with state tracking, for the explanation
	// preds are the units of the quantifiers' predicates in ast, by the ID
	// of the comprehension.
	preds map[int64]*unit
}

// String is the expression as given.
func (p *Program) String() string { return p.source }

// newEnv is the CEL environment of checks over the variables input and
// statement, of any type. Its extensions are those Kubernetes admission policies offer from cel-go:
// strings, lists, sets, math, regex, bindings, two-variable
// comprehensions and optionals, with cross-type numeric comparisons (a
// JSON 9.8 compares with 9).
func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.EnableMacroCallTracking(),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(ext.ListsMaxRangeSize(MaxRangeSize)),
		ext.Sets(),
		ext.Math(),
		ext.Regex(),
		ext.Bindings(),
		ext.TwoVarComprehensions(),
		cel.ASTValidators(
			cel.ValidateDurationLiterals(),
			cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals(),
			cel.ValidateHomogeneousAggregateLiterals(),
		),
	}
	opts = append(opts, cel.Variable("input", cel.DynType), cel.Variable("statement", cel.DynType))
	return cel.NewEnv(opts...)
}

// Compile compiles expr, a CEL expression over input (the JSON document,
// or an attestation's predicate) and statement (the whole in-toto
// Statement; null for a plain file), whose value must be a bool: one of
// another type is refused here, one read from the document (of any type
// until then) when it is evaluated. See
// https://github.com/google/cel-spec/blob/master/doc/langdef.md.
func Compile(expr string) (*Program, error) {
	shown := quote(expr)
	if len(expr) > MaxExpressionBytes {
		return nil, fmt.Errorf("CEL expression %s is %d bytes, more than %d", shown, len(expr), MaxExpressionBytes)
	}
	if !utf8.ValidString(expr) {
		return nil, fmt.Errorf("CEL expression %s is not UTF-8", shown)
	}
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("CEL expression is empty")
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL expression %s: %w", shown, err)
	}
	u, err := compileUnit(env, expr, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("CEL expression %s: %w", shown, err)
	}
	// A value read from the document (input.passed) is of any type until
	// it is evaluated: Eval requires a bool then. One of another type
	// here (1 + 2, "x") can never be one.
	if t := u.ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL expression %s gives a value of type %s, not a bool (true or false)", shown, t)
	}
	return &Program{source: expr, root: u}, nil
}

// maxUnitDepth bounds the nesting of quantifiers that are explained
// element by element; deeper ones are explained by their value.
const maxUnitDepth = 8

// compileUnit compiles src in the environment base with the variables
// vars of enclosing comprehensions, of any type.
func compileUnit(base *cel.Env, src string, vars []string, depth int) (*unit, error) {
	env := base
	if len(vars) > 0 {
		var decls []cel.EnvOption
		seen := map[string]bool{}
		for _, v := range vars {
			if !seen[v] {
				seen[v] = true
				decls = append(decls, cel.Variable(v, cel.DynType))
			}
		}
		var err error
		if env, err = base.Extend(decls...); err != nil {
			return nil, err
		}
	}
	a, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, issuesError(iss)
	}
	u := &unit{ast: a, preds: map[int64]*unit{}}
	var err error
	progOpts := []cel.ProgramOption{
		cel.CostLimit(MaxCost),
		cel.InterruptCheckFrequency(interruptEvery),
	}
	if u.fast, err = env.Program(a, append(progOpts, cel.EvalOptions(cel.OptOptimize))...); err != nil {
		return nil, err
	}
	if u.traced, err = env.Program(a, append(progOpts, cel.EvalOptions(cel.OptOptimize, cel.OptTrackState))...); err != nil {
		return nil, err
	}
	if depth >= maxUnitDepth {
		return u, nil
	}
	native := a.NativeRep()
	info := native.SourceInfo()
	var visit func(e ast.Expr, scope []string)
	visit = func(e ast.Expr, scope []string) {
		if e == nil {
			return
		}
		if e.Kind() != ast.ComprehensionKind {
			for _, ch := range children(e) {
				visit(ch, scope)
			}
			return
		}
		c := e.AsComprehension()
		inner := append(append([]string(nil), scope...), comprehensionVars(c)...)
		if q := quantifierOf(info, e); q != nil {
			// A predicate that does not compile on its own (it should)
			// is explained by its value only.
			if text, err := parser.Unparse(q.pred, info); err == nil {
				if pu, err := compileUnit(base, text, inner, depth+1); err == nil {
					u.preds[e.ID()] = pu
				}
			}
		}
		// An explanation reads the range and the initial value in this
		// unit, and the result of a cel.bind; a quantifier's predicate in
		// its own unit; other loops by their value.
		visit(c.IterRange(), scope)
		visit(c.AccuInit(), scope)
		if c.IterVar() == "#unused" {
			visit(c.Result(), inner)
		}
	}
	visit(native.Expr(), vars)
	return u, nil
}

// quantifier is a comprehension made by the all, exists or exists_one
// macro (or their two-variable forms), with its predicate as written.
type quantifier struct {
	kind string // all, exists, exists_one
	pred ast.Expr
}

func quantifierOf(info *ast.SourceInfo, e ast.Expr) *quantifier {
	call, ok := info.GetMacroCall(e.ID())
	if !ok || call.Kind() != ast.CallKind {
		return nil
	}
	c := call.AsCall()
	kind := c.FunctionName()
	switch kind {
	case "all", "exists", "exists_one":
	case "existsOne":
		kind = "exists_one"
	default:
		return nil
	}
	args := c.Args()
	if len(args) < 2 {
		return nil
	}
	return &quantifier{kind: kind, pred: args[len(args)-1]}
}

// comprehensionVars are the variables a comprehension binds for its loop
// and result, other than the accumulator of a macro.
func comprehensionVars(c ast.ComprehensionExpr) []string {
	var vs []string
	for _, v := range []string{c.IterVar(), c.IterVar2(), c.AccuVar()} {
		if v != "" && !strings.HasPrefix(v, "@") && !strings.HasPrefix(v, "#") && !strings.HasPrefix(v, "__") {
			vs = append(vs, v)
		}
	}
	return vs
}

// children are the direct sub-expressions of e that are not
// comprehensions' parts.
func children(e ast.Expr) []ast.Expr {
	switch e.Kind() {
	case ast.CallKind:
		c := e.AsCall()
		var out []ast.Expr
		if c.IsMemberFunction() {
			out = append(out, c.Target())
		}
		return append(out, c.Args()...)
	case ast.SelectKind:
		return []ast.Expr{e.AsSelect().Operand()}
	case ast.ListKind:
		return e.AsList().Elements()
	case ast.MapKind:
		var out []ast.Expr
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			out = append(out, me.Key(), me.Value())
		}
		return out
	case ast.StructKind:
		var out []ast.Expr
		for _, f := range e.AsStruct().Fields() {
			out = append(out, f.AsStructField().Value())
		}
		return out
	}
	return nil
}

// issuesError makes the first of CEL's compile errors one line:
// "syntax error at column 9: ...".
func issuesError(iss *cel.Issues) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return fmt.Errorf("%s", oneLine(iss.String()))
	}
	e := errs[0]
	msg := clip(oneLine(e.Message), 300)
	if loc := e.Location; loc != nil && loc.Line() > 0 {
		where := fmt.Sprintf("column %d", loc.Column()+1)
		if loc.Line() > 1 {
			where = fmt.Sprintf("line %d column %d", loc.Line(), loc.Column()+1)
		}
		msg = "at " + where + ": " + msg
	}
	if n := len(errs) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return fmt.Errorf("%s", msg)
}

// oneLine keeps s on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// quote shows an expression in a message: on one line, quoted, cut short.
func quote(expr string) string {
	s := oneLine(expr)
	if utf8.RuneCountInString(s) > 200 {
		r := []rune(s)
		s = string(r[:200]) + "…"
	}
	return "`" + s + "`"
}
