package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Size limits (issue 15): a file over maxFileLines lines or a function over
// maxFuncLines lines is allowed only with a one-line reason at its top, a
// comment saying "on purpose": among a file's first lines, or as the first
// line of a function's body (or in its doc comment). Generated code is
// exempt.
const (
	maxFileLines = 500
	maxFuncLines = 80
)

func TestSizesHaveReasons(t *testing.T) {
	files := goFiles(t)
	if len(files) < 100 {
		t.Fatalf("found only %d Go files; is the test running in the repository?", len(files))
	}
	fs := token.NewFileSet()
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if generated(src) {
			continue
		}
		lines := strings.Split(string(src), "\n")
		if n := strings.Count(string(src), "\n"); n > maxFileLines && !hasReason(lines[:min(len(lines), 10)]) {
			t.Errorf("%s has %d lines (over %d) and no reason at its top (a comment saying why it is long \"on purpose\"): split it or say why", path, n, maxFileLines)
		}
		f, err := parser.ParseFile(fs, path, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			first, last := fs.Position(fd.Pos()).Line, fs.Position(fd.End()).Line
			if last-first+1 <= maxFuncLines {
				continue
			}
			body := fs.Position(fd.Body.Lbrace).Line
			reason := hasReason(lines[body : body+1]) // the body's first line
			if fd.Doc != nil {
				reason = reason || strings.Contains(fd.Doc.Text(), "on purpose")
			}
			if !reason {
				t.Errorf("%s:%d: %s has %d lines (over %d) and no reason (a first comment saying why it is long \"on purpose\"): split it or say why",
					path, first, fd.Name.Name, last-first+1, maxFuncLines)
			}
		}
	}
}

// goFiles lists the repository's tracked Go files, as paths from the
// repository's root.
func goFiles(t *testing.T) []string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-files", "*.go")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	var files []string
	for _, f := range strings.Fields(string(out)) {
		files = append(files, filepath.Join(root, f))
	}
	return files
}

// generated reports whether src carries Go's "Code generated ... DO NOT
// EDIT." line.
func generated(src []byte) bool {
	head := string(src[:min(len(src), 2000)])
	return strings.Contains(head, "Code generated") && strings.Contains(head, "DO NOT EDIT")
}

func hasReason(lines []string) bool {
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "//") && strings.Contains(l, "on purpose") {
			return true
		}
	}
	return false
}
