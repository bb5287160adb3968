package platform

import (
	"context"
	"log/slog"
	"sync"

	"github.com/paddockhq/paddock/internal/runtimes"
)

// hosts holds what findRuntimes found, by mapping and directory: each
// check starts the interpreters (a JVM among them), and a process that
// starts many platforms (the tests) needs it once.
var hosts struct {
	sync.Mutex
	found map[string]*runtimes.Host
}

// findRuntimes resolves the managed runtimes this machine runs, with the
// operator's mapping m, from the runtime clients under dir ("": the
// default), and logs them the first time.
func findRuntimes(ctx context.Context, m runtimes.Mapping, dir string) *runtimes.Host {
	if dir == "" {
		dir = runtimes.DefaultDir()
	}
	key := m.String() + "\x00" + dir
	hosts.Lock()
	defer hosts.Unlock()
	if h := hosts.found[key]; h != nil {
		return h
	}
	h := runtimes.FindHost(ctx, m, dir)
	h.Log(slog.Default().With("role", "runtimes"))
	if hosts.found == nil {
		hosts.found = make(map[string]*runtimes.Host)
	}
	hosts.found[key] = h
	return h
}

// runtimeArgs are the agent flags that give an agent process on this
// machine the same runtimes (the processes provider's).
func runtimeArgs(m runtimes.Mapping, dir string) []string {
	var args []string
	if len(m) > 0 {
		args = append(args, "--runtime-path", m.String())
	}
	if dir != "" {
		args = append(args, "--runtimes-dir", dir)
	}
	return args
}
