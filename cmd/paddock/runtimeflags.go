package main

import (
	"github.com/spf13/pflag"

	"github.com/paddockhq/paddock/internal/runtimes"
)

// runtimeFlags are the flags that say where the managed runtimes'
// interpreters and clients are, shared by up, server and agent.
type runtimeFlags struct {
	paths []string
	dir   string
}

func (r *runtimeFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&r.paths, "runtime-path", nil, "the interpreter a managed runtime runs on, RUNTIME=PATH (repeatable): nodejs22.x=/usr/bin/node, python3.13=/usr/bin/python3, java21=/usr/lib/jvm/temurin-21/bin/java; an unmapped runtime takes the host's (Node.js from --runtimes-dir, python3 on PATH, the JDKs under /usr/lib/jvm) when it is the runtime's version or newer; a mapped older one runs, with a warning")
	f.StringVar(&r.dir, "runtimes-dir", "", "where scripts/install-runtimes.sh put AWS's runtime clients and Node.js (default $"+runtimes.DirEnv+", or ~/.cache/paddock/runtimes)")
}

// mapping is --runtime-path, checked.
func (r *runtimeFlags) mapping() (runtimes.Mapping, error) { return runtimes.ParseMapping(r.paths) }
