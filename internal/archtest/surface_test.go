package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// surfaceLimits caps the exported identifiers of the packages users program against, so
// that each stays as small as the anchors it imitates (x/time/rate has 31,
// net/http/httptest 30). Raising a cap is a design decision, not a fix for a failing test.
var surfaceLimits = map[string]int{
	".":           50,
	"quota":       60,
	"bedrocktest": 60,
}

// TestExportedSurface counts, per package, its exported types, funcs, consts, vars, the
// methods of its exported types and their exported fields (interface methods included),
// in non-test files.
func TestExportedSurface(t *testing.T) {
	for dir, limit := range surfaceLimits {
		names := exported(t, filepath.Join("..", "..", dir))
		t.Logf("package %q: %d exported identifiers (cap %d)", dir, len(names), limit)
		if len(names) > limit {
			t.Errorf("package %q exports %d identifiers, over its cap of %d:\n%s",
				dir, len(names), limit, strings.Join(names, "\n"))
		}
	}
}

// exported lists the exported identifiers declared in the package in dir.
func exported(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	var names []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, d := range f.Decls {
			names = append(names, declared(t, f, d)...)
		}
	}
	sort.Strings(names)
	return names
}

// declared lists the exported identifiers one declaration of file f introduces. An alias
// of a type of this module counts with that type's exported fields and methods: what a
// user sees does not shrink by moving it to another package.
func declared(t *testing.T, f *ast.File, d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return nil
		}
		if d.Recv == nil {
			return []string{"func " + d.Name.Name}
		}
		if recv := typeName(d.Recv.List[0].Type); recv != nil && recv.IsExported() {
			names = append(names, "method "+recv.Name+"."+d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					names = append(names, "type "+s.Name.Name)
					names = append(names, members(s)...)
					if s.Assign != 0 {
						names = append(names, aliased(t, f, s)...)
					}
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.IsExported() {
						names = append(names, d.Tok.String()+" "+n.Name)
					}
				}
			}
		}
	}
	return names
}

// members lists the exported fields of a struct type or the methods of an interface type.
func members(s *ast.TypeSpec) []string {
	var fields *ast.FieldList
	switch t := s.Type.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	default:
		return nil
	}
	var names []string
	for _, f := range fields.List {
		if len(f.Names) == 0 { // embedded
			if id := typeName(f.Type); id != nil && id.IsExported() {
				names = append(names, "field "+s.Name.Name+"."+id.Name)
			}
		}
		for _, n := range f.Names {
			if n.IsExported() {
				names = append(names, "field "+s.Name.Name+"."+n.Name)
			}
		}
	}
	return names
}

// typeName is the name of a (possibly pointer, generic or package-qualified) type.
func typeName(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel
		case *ast.Ident:
			return x
		default:
			return nil
		}
	}
}

// aliased lists the exported fields and methods of the module's type an alias names.
func aliased(t *testing.T, f *ast.File, s *ast.TypeSpec) []string {
	sel, ok := s.Type.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return nil
	}
	for _, im := range f.Imports {
		path := strings.Trim(im.Path.Value, `"`)
		name := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		if name != x.Name || !strings.HasPrefix(path, module+"/") {
			continue
		}
		var names []string
		for _, n := range exported(t, filepath.Join("..", "..", strings.TrimPrefix(path, module+"/"))) {
			kind, id, _ := strings.Cut(n, " ")
			if (kind == "field" || kind == "method") && strings.HasPrefix(id, sel.Sel.Name+".") {
				names = append(names, "alias "+s.Name.Name+strings.TrimPrefix(id, sel.Sel.Name))
			}
		}
		return names
	}
	return nil
}
