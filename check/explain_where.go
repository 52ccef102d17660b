package check

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

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
