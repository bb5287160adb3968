package platform

import (
	"context"
	"crypto/rand"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/console"
)

// wireConsole serves the web console at /console: its login accepts the
// API's key pair or Options.ConsoleToken (a random one when empty, which
// no one can type: `paddock up` makes and prints its own). It counts every
// invoke for its charts and samples them in a goroutine.
func wireConsole(w *wiring) error {
	token := w.opts.ConsoleToken
	if token == "" {
		token = rand.Text()
	}
	prices := billing.DefaultPrices()
	prices.SavingsPlanDiscount = w.opts.SavingsPlan
	cfg := console.Config{
		AccessKeyID: w.opts.AccessKeyID, SecretAccessKey: w.opts.SecretAccessKey, Token: token,
		Fleet:             w.loop,
		CapacityProviders: w.ctl.CapacityProviders,
		OnDemand:          w.pool.Stats,
		Meter:             w.meter,
		Prices:            prices,
	}
	if w.p.Static != nil {
		cfg.Cluster = w.p
	}
	c := console.New(cfg)
	w.api.Observe(c)
	w.api.HandleConsole(c)
	w.goroutine(func(ctx context.Context) { c.History().Run(ctx, w.loop) })
	return nil
}
