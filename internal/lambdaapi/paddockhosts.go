package lambdaapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"github.com/paddockhq/paddock/internal/fleet"
)

// HostForgetter forgets joined hosts whose agents will not come back as
// they were (platform: the static provider's records and the host id's
// binding to its agent's key).
type HostForgetter interface {
	// ForgetHost returns fleet.ErrNoHost for a host id nothing knows, and
	// fleet.ErrHostBeats while its agent is joined.
	ForgetHost(ctx context.Context, id string) error
}

// HostForgotten is the body of DELETE /paddock/v1/hosts/{id}.
type HostForgotten struct {
	ID        string `json:"id"`
	Forgotten bool   `json:"forgotten"`
}

// HandleHosts serves DELETE /paddock/v1/hosts/{id}: the servers forget a
// joined host whose machine is retired or rebuilt (a new key), so that its
// records do not stay for ever and an agent may join as its id again, even
// after the token it joined with was revoked. A host whose agent beats is
// refused: stop the agent first.
func (a *API) HandleHosts(hosts HostForgetter) {
	a.mux.Handle("DELETE /paddock/v1/hosts/{id}", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		id := r.PathValue("id")
		switch err := hosts.ForgetHost(r.Context(), id); {
		case errors.Is(err, fleet.ErrNoHost):
			return awserr.NotFound("Host not found: %s", id)
		case errors.Is(err, fleet.ErrHostBeats):
			return awserr.Conflict("Host %s is joined and its agent beats: stop the agent before the servers forget the host.", id)
		case err != nil:
			return awserr.Service("Forgetting host %s failed: %v", id, err)
		}
		return writeJSON(w, http.StatusOK, HostForgotten{ID: id, Forgotten: true})
	}))
}
