package check

import (
	"context"
	"errors"
	"fmt"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Input is what a check evaluates over.
type Input struct {
	// Document is bound to input: a JSON file, or the predicate of an
	// attestation (see StatementInput).
	Document *Document
	// Statement is bound to statement: the whole in-toto Statement whose
	// predicate Document is; nil (statement is null) for a plain file.
	Statement *Document
}

// Result is the outcome of a check that evaluated: the expression's value
// and why.
type Result struct {
	// Pass is the expression's value.
	Pass bool
	// Reason names the expression, its value and the value that decided
	// it: for a quantifier (all, exists), the element that made it so.
	// One line.
	Reason string
}

// EvalError is a check that could not be evaluated: a key the document
// lacks, values of types that do not compare, the cost limit, a cancelled
// context. It is neither true nor false; a caller treats it as not
// verified.
type EvalError struct {
	// Expr is the expression as given.
	Expr string
	// Document is the name of the document checked.
	Document string
	// At names the sub-expression that failed, and for which element,
	// where that is known ("" otherwise).
	At string
	// Message is what failed, in CEL's words ("no such key: severity").
	Message string
	// Err is the cause where there is one to test with errors.Is (a
	// context's error), else nil.
	Err error
}

func (e *EvalError) Error() string {
	s := fmt.Sprintf("CEL expression %s over %s failed", quote(e.Expr), e.Document)
	if e.At != "" {
		s += " at " + e.At
	}
	return s + ": " + e.Message
}

func (e *EvalError) Unwrap() error { return e.Err }

// Eval evaluates the check over in. An evaluation that fails returns an
// *EvalError, never a false Result; one that exceeds MaxCost, or outlives
// ctx, fails.
//
// The Reason follows the expression down from its value: the operand of
// && or || that decided, the branch of ?: taken, and for a quantifier
// (all, exists, exists_one) the element that decided, found by evaluating
// its predicate again element by element (within MaxCost more) and
// explained in turn; a comparison or call by its operands' values.
func (p *Program) Eval(ctx context.Context, in Input) (Result, error) {
	if in.Document == nil {
		return Result{}, errors.New("no document to check")
	}
	fail := func(at, msg string, cause error) (Result, error) {
		return Result{}, &EvalError{Expr: p.source, Document: in.Document.name, At: at, Message: msg, Err: cause}
	}
	if err := ctx.Err(); err != nil {
		return fail("", "interrupted: "+context.Cause(ctx).Error(), err)
	}
	vars := map[string]any{"input": in.Document.value, "statement": types.NullValue}
	if in.Statement != nil {
		vars["statement"] = in.Statement.value
	}
	act, err := interpreter.NewActivation(vars)
	if err != nil {
		return Result{}, err
	}
	out, det, err := p.root.traced.ContextEval(ctx, act)
	f := &frame{x: &explainer{ctx: ctx, budget: MaxCost}, u: p.root, act: act}
	if det != nil {
		f.state = det.State()
	}
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		switch {
		case ctx.Err() != nil:
			return fail("", "interrupted: "+context.Cause(ctx).Error(), ctx.Err())
		case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
			return fail("", fmt.Sprintf("it costs more than the limit of %d (a document this large, or an expression this costly)", MaxCost), nil)
		case errors.As(err, &cancelled):
			return fail("", oneLine(cancelled.Message), nil)
		}
		at := ""
		if f.state != nil {
			at = f.where(f.u.ast.NativeRep().Expr(), 0)
		}
		return fail(at, oneLine(err.Error()), nil)
	}
	pass, ok := out.(types.Bool)
	if !ok {
		return fail("", fmt.Sprintf("its value is %s, not a bool", show(out)), nil)
	}
	reason := fmt.Sprintf("%s is %t", quote(p.source), bool(pass))
	if why := f.explain(f.u.ast.NativeRep().Expr(), out, 0); why != "" {
		reason += ": " + why
	}
	return Result{Pass: bool(pass), Reason: clip(reason, maxReason)}, nil
}

// File evaluates prog over data, the JSON file name, as
// `referee check --cel EXPR FILE` does: a file that is not JSON a check
// reads is an error (not an *EvalError), as is a failed evaluation.
func File(ctx context.Context, prog *Program, name string, data []byte) (Result, error) {
	doc, err := ReadJSON(name, data)
	if err != nil {
		return Result{}, err
	}
	return prog.Eval(ctx, Input{Document: doc})
}
