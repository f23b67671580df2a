// Package policy decides who may do what in procd, as plain data: the roles
// (control, read), the client identities that map to them (certificate
// names, bearer tokens), and the optional command policy that narrows which
// executables a caller may start, as which user, with which environment.
//
// It is a leaf: it imports only the standard library, no core package and no
// gRPC, so that the daemon, the server and procctl can all use it (procctl
// uses DeniedEnv not to forward loader variables). It parses and decides;
// it never looks at a connection or starts anything. The server works out
// who a caller is, the manager resolves the executable, and the daemon
// hands both to Policy.CheckStart before anything is forked.
package policy
