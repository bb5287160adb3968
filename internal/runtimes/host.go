package runtimes

import (
	"context"
	"log/slog"
)

// Host is what this machine runs: every managed runtime resolved once (its
// interpreter and its runtime client directory), or why it cannot run.
type Host struct {
	// Root is the runtimes directory the clients were looked for in.
	Root   string
	byName map[string]Resolution
	list   []Resolution
}

// FindHost resolves every managed runtime on this machine: the operator's
// mapping m, else the host's interpreters (Resolve), and the client
// directory under root that scripts/install-runtimes.sh installs.
func FindHost(ctx context.Context, m Mapping, root string) *Host {
	h := &Host{Root: root, byName: make(map[string]Resolution)}
	for _, res := range ResolveAll(ctx, m, root) {
		if res.Err == nil {
			dir := ClientDir(root, res.Runtime, res.Choice.Version)
			v, err := CheckClientDir(dir)
			if err != nil {
				res.Err = &UnsupportedError{Runtime: res.Runtime.Name, Reason: err.Error()}
			} else {
				res.ClientDir, res.ClientVersion = dir, v
			}
		}
		h.byName[res.Runtime.Name] = res
		h.list = append(h.list, res)
	}
	return h
}

// Resolutions is every managed runtime's resolution, in the registry's
// order: for the start-up log and the runtime table.
func (h *Host) Resolutions() []Resolution {
	if h == nil {
		return nil
	}
	return append([]Resolution(nil), h.list...)
}

// Available is nil when a function of runtime name can run here: a custom
// runtime, or a managed one this host resolved. Otherwise it is the
// *UnsupportedError to refuse the function with.
func (h *Host) Available(name string) error {
	_, err := h.Lookup(name)
	return err
}

// Lookup is the managed runtime name as this host runs it. For a custom
// runtime it is the zero Resolution and nil.
func (h *Host) Lookup(name string) (Resolution, error) {
	if err := Check(name); err != nil {
		return Resolution{}, err
	}
	if IsCustom(name) {
		return Resolution{}, nil
	}
	if h == nil {
		return Resolution{}, &UnsupportedError{Runtime: name, Reason: "this Paddock was started without managed runtimes"}
	}
	res := h.byName[name]
	return res, res.Err
}

// Log writes what this host runs, one line per managed runtime: its
// interpreter and client, or why it is unavailable; and the warning of an
// older interpreter run because the operator mapped it.
func (h *Host) Log(log *slog.Logger) {
	for _, res := range h.Resolutions() {
		if res.Err != nil {
			log.Info("runtime unavailable", "runtime", res.Runtime.Name, "reason", res.Err)
			continue
		}
		if res.Choice.Warning != "" {
			log.Warn(res.Choice.Warning)
		}
		log.Info("runtime available", "runtime", res.Runtime.Name, "interpreter", res.Choice.Real,
			"version", res.Choice.Version.String(), "client", res.ClientVersion, "concurrency", string(res.Runtime.Model))
	}
}
