package lambdaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/paddockhq/paddock/internal/control"
)

// PutFunctionEventInvokeConfig, UpdateFunctionEventInvokeConfig,
// GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig and
// ListFunctionEventInvokeConfigs: the asynchronous invocation settings of
// a function, version or alias (control/eventinvoke.go has the rules and
// where AWS's texts come from).

type destinationWire struct {
	Destination *string `json:"Destination,omitempty"`
}

type destinationConfigWire struct {
	OnSuccess *destinationWire `json:"OnSuccess,omitempty"`
	OnFailure *destinationWire `json:"OnFailure,omitempty"`
}

type eventInvokeConfigRequest struct {
	MaximumRetryAttempts     *int                   `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int                   `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *destinationConfigWire `json:"DestinationConfig"`
}

// eventInvokeConfigWire is the model's FunctionEventInvokeConfig as AWS
// answers it: LastModified in epoch seconds (the model's Date is a
// timestamp, which rest-json sends as a number: the SDKs read nothing
// else), DestinationConfig always with both members, empty objects for
// none, and the retries and the event age only when configured.
type eventInvokeConfigWire struct {
	LastModified             json.Number           `json:"LastModified"`
	FunctionArn              string                `json:"FunctionArn"`
	MaximumRetryAttempts     *int                  `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int                  `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        destinationConfigWire `json:"DestinationConfig"`
}

// epochSeconds writes a time in milliseconds since the epoch as seconds
// with a fraction, as AWS does (1573687896.493 in the API reference's
// examples).
func epochSeconds(ms int64) json.Number {
	return json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000))
}

func destinationToWire(arn string) *destinationWire {
	if arn == "" {
		return &destinationWire{}
	}
	return &destinationWire{Destination: &arn}
}

func (a *API) eventInvokeConfigToWire(c *control.EventInvokeConfig) eventInvokeConfigWire {
	return eventInvokeConfigWire{
		LastModified:             epochSeconds(c.LastModified.UnixMilli()),
		FunctionArn:              a.ctl.FunctionARN(c.Function, c.Qualifier),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
		DestinationConfig:        destinationConfigWire{OnSuccess: destinationToWire(c.OnSuccess), OnFailure: destinationToWire(c.OnFailure)},
	}
}

func (r *eventInvokeConfigRequest) input() control.EventInvokeInput {
	in := control.EventInvokeInput{MaximumRetryAttempts: r.MaximumRetryAttempts, MaximumEventAgeInSeconds: r.MaximumEventAgeInSeconds}
	if d := r.DestinationConfig; d != nil {
		in.Destinations = &control.Destinations{}
		if d.OnSuccess != nil && d.OnSuccess.Destination != nil {
			in.Destinations.OnSuccess = *d.OnSuccess.Destination
		}
		if d.OnFailure != nil && d.OnFailure.Destination != nil {
			in.Destinations.OnFailure = *d.OnFailure.Destination
		}
	}
	return in
}

func (a *API) putFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeEventInvokeConfig(w, r, body, a.ctl.PutFunctionEventInvokeConfig)
}

func (a *API) updateFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeEventInvokeConfig(w, r, body, a.ctl.UpdateFunctionEventInvokeConfig)
}

type eventInvokeWrite func(ctx context.Context, function, qualifier string, in control.EventInvokeInput) (*control.EventInvokeConfig, error)

func (a *API) writeEventInvokeConfig(w http.ResponseWriter, r *http.Request, body []byte, write eventInvokeWrite) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	var req eventInvokeConfigRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	c, err := write(r.Context(), name, qualifier, req.input())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.eventInvokeConfigToWire(c))
}

func (a *API) getFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	c, err := a.ctl.GetFunctionEventInvokeConfig(name, qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.eventInvokeConfigToWire(c))
}

func (a *API) deleteFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteFunctionEventInvokeConfig(r.Context(), name, qualifier); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listFunctionEventInvokeConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	max, err := maxItems(r, control.MaxEventInvokeConfigPage)
	if err != nil {
		return err
	}
	cs, next, err := a.ctl.ListFunctionEventInvokeConfigs(name, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	list := make([]eventInvokeConfigWire, 0, len(cs))
	for i := range cs {
		list = append(list, a.eventInvokeConfigToWire(&cs[i]))
	}
	out := map[string]any{"FunctionEventInvokeConfigs": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}
