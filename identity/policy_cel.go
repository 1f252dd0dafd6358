package identity

import (
	"errors"
	"fmt"
	"path"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// policyEnv is the CEL environment of policy rules.
func policyEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("issuer", cel.StringType),
		cel.Variable("subject", cel.StringType),
		cel.Variable("identity", cel.StringType),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.Function("glob",
			cel.MemberOverload("string_glob_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(globBinding))),
	)
}

// globBinding is `s.glob(pattern)`: path.Match, where * and ? do not match '/'.
func globBinding(lhs, rhs ref.Val) ref.Val {
	s, ok1 := lhs.Value().(string)
	pattern, ok2 := rhs.Value().(string)
	if !ok1 || !ok2 {
		return types.NewErr("glob: want string arguments")
	}
	ok, err := path.Match(pattern, s)
	if err != nil {
		return types.NewErr("glob pattern %q: %v", pattern, err)
	}
	return types.Bool(ok)
}

// compileRule parses and type-checks a rule: it must be a boolean
// expression, and every literal glob pattern must be well formed.
func compileRule(env *cel.Env, expr string) (cel.Program, error) {
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, errors.New(iss.Err().Error())
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("the expression yields %s, not bool", checked.OutputType())
	}
	if err := checkGlobs(checked.NativeRep()); err != nil {
		return nil, err
	}
	prg, err := env.Program(checked, cel.CostLimit(policyCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	return prg, nil
}

// checkGlobs refuses a literal glob pattern that path.Match would reject.
func checkGlobs(a *ast.AST) error {
	for _, call := range ast.MatchDescendants(ast.NavigateAST(a), ast.FunctionMatcher("glob")) {
		args := call.AsCall().Args()
		if len(args) != 1 || args[0].Kind() != ast.LiteralKind {
			continue
		}
		if p, ok := args[0].AsLiteral().Value().(string); ok {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("glob pattern %q: %w", p, err)
			}
		}
	}
	return nil
}
