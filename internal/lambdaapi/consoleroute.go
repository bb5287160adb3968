package lambdaapi

import (
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/scaler"
)

// HandleConsole mounts the web console h at /console and everything under
// /console/. These routes do not go through wrap: a browser cannot sign
// with SigV4, so the console checks its own login (the same key pair, or
// a console token) and keeps its own sessions. Call it once.
func (a *API) HandleConsole(h http.Handler) {
	a.mux.Handle("/console", h)
	a.mux.Handle("/console/", h)
}

// FleetStatus is what GET /paddock/v1/status answers for these capacity
// providers, instances and versions: instances grouped under their
// capacity provider with their allocation summed, versions in numeric
// order. The console shows the same view.
func FleetStatus(cps []control.CapacityProvider, insts []scaler.InstanceStatus, versions []scaler.VersionStatus, now time.Time) StatusResponse {
	return buildStatus(cps, insts, versions, now)
}
