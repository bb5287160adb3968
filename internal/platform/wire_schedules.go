package platform

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/schedule"
	"github.com/paddockhq/paddock/internal/schedulerapi"
	"github.com/paddockhq/paddock/internal/sigv4"
)

// wireSchedules serves the schedules API (EventBridge Scheduler's shape,
// package schedulerapi) on the API port, any server writing them to the
// paddock-schedules bucket, and fires them on the leading server, each
// slot an asynchronous invoke (package schedule).
func wireSchedules(w *wiring) error {
	kv, err := w.store.KeyValue(w.ctx, jetstream.KeyValueConfig{Bucket: schedule.Bucket, Description: "schedules that invoke functions, and the slot each last fired"})
	if err != nil {
		return err
	}
	st := schedule.NewStore(kv)
	var verifier *sigv4.Verifier
	if w.verify != nil {
		verifier = &sigv4.Verifier{Credentials: w.verify.Credentials, Service: "scheduler"}
	}
	w.api.HandleSchedules(&schedulerapi.Handler{
		Store: st, Verifier: verifier, Region: w.ctl.Region(), Account: w.ctl.Account(),
		FunctionExists: func(function, qualifier string) bool {
			_, err := w.ctl.GetFunction(function, qualifier)
			return err == nil
		},
	})
	r := &schedule.Runner{Store: st, Queue: w.async, Active: w.p.leading.Load, Region: w.ctl.Region(), Account: w.ctl.Account()}
	w.goroutine(r.Run)
	return nil
}
