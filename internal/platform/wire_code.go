package platform

import (
	"errors"

	"github.com/paddockhq/paddock/internal/coderelay"
	"github.com/paddockhq/paddock/internal/store"
)

// wireCode serves code to the agents on other machines: each reads, chunk
// by chunk through the servers, only the code of the EEs it was assigned
// (the engine does not let it read the object store).
func wireCode(w *wiring) error {
	if w.p.Static == nil {
		return nil // the agents are in this process and read the store
	}
	relay := &coderelay.Server{
		Allowed:  w.p.Static.RunsCode,
		Get:      w.store.GetCode,
		NotFound: func(err error) bool { return errors.Is(err, store.ErrNotFound) },
	}
	return relay.Serve(w.ctx, w.store.Conn())
}
