package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/constant"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

// enumCase is one conversion table seen from the test: the proto enum it
// maps, the core type it maps it to, and the table both ways on numbers.
type enumCase struct {
	proto    protoreflect.EnumDescriptor
	coreType string  // "github.com/procd/procd/internal/manager.State"; "" for a core without its own type
	coreVals []int64 // core values, when coreType is ""
	hasCore  func(v int64) (int32, bool)
	hasProto func(n int32) (int64, bool)
}

func caseOf[C ~int | ~uint8, P protoEnum](m enumMap[C, P], coreType string) enumCase {
	var zero P
	return enumCase{
		proto:    zero.Descriptor(),
		coreType: coreType,
		hasCore: func(v int64) (int32, bool) {
			p, ok := m.toProto[C(v)]
			return int32(p), ok
		},
		hasProto: func(n int32) (int64, bool) {
			c, ok := m.fromProto[P(n)]
			return int64(c), ok
		},
	}
}

// Every value of every enum in procd.proto has a core counterpart and
// back, and every constant of each core enum type has a proto one: a
// value added on either side without its conversion fails here.
func TestEnumConversionsAreComplete(t *testing.T) {
	const core = "github.com/procd/procd/internal/"
	cases := []enumCase{
		caseOf(processStates, core+"manager.State"),
		caseOf(exitReasons, core+"manager.Reason"),
		caseOf(killModes, core+"manager.KillMode"),
		caseOf(stdinModes, core+"manager.StdinMode"),
		caseOf(activitySources, core+"watchdog.Source"),
		caseOf(eventTypes, core+"events.Type"),
		caseOf(jobOutcomes, core+"executor.Outcome"),
		caseOf(restartModes, core+"manager.RestartMode"),
	}
	// manager.Failures is a set: its constants include AllFailures, which
	// is no single value; the table covers each bit.
	fc := caseOf(restartFailures, "")
	fc.coreVals = []int64{int64(manager.FailNonZero), int64(manager.FailSignal), int64(manager.FailHung), int64(manager.FailDeadline), int64(manager.FailStartup)}
	if int64(manager.AllFailures) != 31 {
		t.Errorf("manager.AllFailures is %d: a failure kind was added; list it here", manager.AllFailures)
	}
	cases = append(cases, fc)
	sc := enumCase{proto: pb.Stream(0).Descriptor(), coreVals: []int64{0, 1},
		hasCore: func(v int64) (int32, bool) {
			p, ok := streams.toProto[[]string{"stdout", "stderr"}[v]]
			return int32(p), ok
		},
		hasProto: func(n int32) (int64, bool) {
			s, ok := streams.fromProto[pb.Stream(n)]
			return map[string]int64{"stdout": 0, "stderr": 1}[s], ok
		}}
	cases = append(cases, sc)

	// Every enum the API declares has a table.
	covered := map[protoreflect.FullName]bool{}
	for _, c := range cases {
		covered[c.proto.FullName()] = true
	}
	all := pb.File_procd_v1_procd_proto.Enums()
	for i := range all.Len() {
		if e := all.Get(i); !covered[e.FullName()] {
			t.Errorf("proto enum %s has no conversion table in server/enums.go", e.FullName())
		}
	}
	consts := coreConstants(t, cases)
	for _, c := range cases {
		values := c.proto.Values()
		for i := range values.Len() {
			v := values.Get(i)
			if v.Number() == 0 {
				if _, ok := c.hasProto(0); ok {
					t.Errorf("%s: the UNSPECIFIED value maps to a core value", v.FullName())
				}
				continue
			}
			cv, ok := c.hasProto(int32(v.Number()))
			if !ok {
				t.Errorf("%s (%d) has no core counterpart", v.FullName(), v.Number())
				continue
			}
			if back, _ := c.hasCore(cv); back != int32(v.Number()) {
				t.Errorf("%s: converts to core %d, which converts back to %d", v.FullName(), cv, back)
			}
		}
		coreVals := c.coreVals
		if c.coreType != "" {
			coreVals = nil
			for _, k := range consts[c.coreType] {
				coreVals = append(coreVals, k.value)
			}
			if len(coreVals) == 0 {
				t.Errorf("core type %s declares no constants (renamed?)", c.coreType)
			}
		}
		for _, cv := range coreVals {
			p, ok := c.hasCore(cv)
			if !ok || p == 0 {
				t.Errorf("core %s value %s has no %s counterpart", c.coreType, nameOf(consts[c.coreType], cv), c.proto.FullName())
			}
		}
	}
}

type namedConst struct {
	name  string
	value int64
}

func nameOf(cs []namedConst, v int64) string {
	for _, c := range cs {
		if c.value == v {
			return c.name
		}
	}
	return fmt.Sprint(v)
}

// coreConstants lists the package-level constants of each core type, read
// from the compiler's export data (go list -export), so that a constant
// added to a core enum is seen without anyone listing it.
func coreConstants(t *testing.T, cases []enumCase) map[string][]namedConst {
	t.Helper()
	pkgs := map[string]bool{}
	for _, c := range cases {
		if c.coreType != "" {
			pkgs[c.coreType[:lastDot(c.coreType)]] = true
		}
	}
	args := []string{"list", "-export", "-deps", "-json=ImportPath,Export"}
	for p := range pkgs {
		args = append(args, p)
	}
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, stderr.Bytes())
	}
	exports := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	out2 := map[string][]namedConst{}
	for p := range pkgs {
		pkg, err := imp.Import(p)
		if err != nil {
			t.Fatalf("import %s: %v", p, err)
		}
		for _, name := range pkg.Scope().Names() {
			c, ok := pkg.Scope().Lookup(name).(*types.Const)
			if !ok {
				continue
			}
			named, ok := c.Type().(*types.Named)
			if !ok || named.Obj().Pkg() != pkg {
				continue
			}
			full := p + "." + named.Obj().Name()
			v, exact := constant.Int64Val(c.Val())
			if !exact {
				continue
			}
			out2[full] = append(out2[full], namedConst{name: name, value: v})
		}
	}
	return out2
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
