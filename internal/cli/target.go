package cli

import (
	"strconv"

	"github.com/spf13/pflag"

	pb "github.com/procd/procd/proto/procd/v1"
)

// parseRef reads a process argument: all digits is a pid, anything else an id.
func parseRef(arg string) (id string, pid int32, err error) {
	if arg == "" {
		return "", 0, usagef("empty process id")
	}
	if n, err := strconv.ParseInt(arg, 10, 32); err == nil {
		if n <= 0 {
			return "", 0, usagef("pid %d is not valid", n)
		}
		return "", int32(n), nil
	}
	return arg, 0, nil
}

// selectorFlags select many processes for bulk commands.
type selectorFlags struct {
	all    bool
	name   string
	labels []string
}

func (s *selectorFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&s.all, "all", false, "every process")
	fs.StringVar(&s.name, "name", "", "processes with this name")
	fs.StringArrayVarP(&s.labels, "label", "l", nil, "processes with this label key=value (repeatable; all must match)")
}

func (s *selectorFlags) set() bool { return s.all || s.name != "" || len(s.labels) > 0 }

func (s *selectorFlags) selector() (*pb.Selector, error) {
	labels, err := parseKV("label", s.labels)
	if err != nil {
		return nil, err
	}
	return &pb.Selector{All: s.all, Name: s.name, Labels: labels}, nil
}
