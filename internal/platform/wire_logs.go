package platform

import (
	"log/slog"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/logs"
)

// wireLogs stores function logs durably and serves them: every EE's
// output and the platform lines of every invoke go to the paddock-logs
// stream (bounded by Options.LogRetention and LogMaxBytes), read back by
// GET /paddock/v1/logs/{function} and `paddock logs`.
func wireLogs(w *wiring) error {
	svc, err := logs.Open(w.ctx, w.store.JetStream(), logs.Options{Retention: w.opts.LogRetention, MaxBytes: w.opts.LogMaxBytes, CreateStream: w.store.Stream})
	if err != nil {
		return err
	}
	w.outputs.add(svc)
	if w.p.Static != nil { // agents on other machines send their EEs' lines here
		if err := svc.ServeRelay(w.ctx, w.store.Conn(), w.p.Static.Runs); err != nil {
			return err
		}
	}
	w.api.Observe(invokeLogs{svc})
	w.api.HandleLogs(svc)
	// Following readers would otherwise hold the server's shutdown for its
	// whole grace period.
	w.p.server.RegisterOnShutdown(svc.EndFollows)
	// The writer stops with the platform, after writing what it holds.
	w.goroutine(svc.Run)
	// The writer warns of drops as they happen; the total, known once it
	// has stopped, tells an operator whether the logs are complete.
	w.onClose(func() {
		if n := svc.Dropped(); n > 0 {
			slog.Warn("function log lines were lost in this run: the logs writer or the engine fell behind", "lines", n)
		}
	})
	return nil
}

// invokeLogs hands each invoke that ran to the logs role, for its
// platform lines.
type invokeLogs struct{ svc *logs.Service }

// ObserveInvoke implements lambdaapi.InvokeObserver.
func (o invokeLogs) ObserveInvoke(rec lambdaapi.InvokeRecord) {
	ee, ok := rec.EE.(*agent.EE)
	if !ok || rec.Throttled != "" {
		return // throttled, or never reached an EE: Lambda logs nothing
	}
	inv := rec.Invocation
	o.svc.Invoke(logs.Invoke{
		EE: ee, Function: rec.Route.FunctionName, Version: rec.Route.Version, RequestID: inv.ID,
		Start: rec.Start, Dispatched: inv.Dispatched(), Answered: inv.Answered,
		Duration: rec.Duration, InitDuration: rec.InitDuration, Timeout: rec.Route.Timeout,
		MemoryMB: rec.Route.Config.MemorySize, FunctionErr: inv.FunctionError, ErrorType: inv.ErrorType,
	})
}
