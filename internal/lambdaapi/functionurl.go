package lambdaapi

import (
	"context"
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/control"
)

// CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
// DeleteFunctionUrlConfig and ListFunctionUrlConfigs: the function URL
// configs of a function or an alias (control/functionurl.go has the rules
// and where AWS's texts and shapes come from; urlserve.go serves the
// URLs).

// corsWire is the model's Cors, as given and answered back.
type corsWire struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

type urlConfigRequest struct {
	AuthType   string    `json:"AuthType"`
	Cors       *corsWire `json:"Cors"`
	InvokeMode string    `json:"InvokeMode"`
}

func (r *urlConfigRequest) input() control.URLConfigInput {
	in := control.URLConfigInput{AuthType: r.AuthType, InvokeMode: r.InvokeMode}
	if c := r.Cors; c != nil {
		in.Cors = &control.CorsInput{AllowCredentials: c.AllowCredentials, AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods,
			AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
	}
	return in
}

// urlConfigWire is the model's FunctionUrlConfig and the answers of
// Create (no LastModifiedTime), Update and Get. The times are strings in
// ISO-8601 (the model's Timestamp is a string shape).
type urlConfigWire struct {
	FunctionUrl      string    `json:"FunctionUrl"`
	FunctionArn      string    `json:"FunctionArn"`
	AuthType         string    `json:"AuthType"`
	Cors             *corsWire `json:"Cors,omitempty"`
	CreationTime     string    `json:"CreationTime"`
	LastModifiedTime string    `json:"LastModifiedTime,omitempty"`
	InvokeMode       string    `json:"InvokeMode,omitempty"`
}

// urlTimeLayout: microseconds and Z (2024-01-01T00:00:00.000000Z). The
// snapshot recordings replace the times with "date"; the layout is not
// confirmed by a recording.
const urlTimeLayout = "2006-01-02T15:04:05.000000Z"

func urlTimeString(t time.Time) string { return t.UTC().Format(urlTimeLayout) }

// urlConfigToWire answers c. full: Get and List, which answer
// LastModifiedTime and InvokeMode always (BUFFERED when never given);
// Create and Update answer InvokeMode only once given, as AWS does.
func (a *API) urlConfigToWire(c *control.URLConfig, lastModified, full bool) urlConfigWire {
	out := urlConfigWire{
		FunctionUrl: a.functionURLFor(c.ID), FunctionArn: a.ctl.FunctionARN(c.Function, c.Qualifier),
		AuthType: c.AuthType, CreationTime: urlTimeString(c.Created), InvokeMode: c.InvokeMode,
	}
	if lastModified {
		out.LastModifiedTime = urlTimeString(c.Modified)
	}
	if full {
		out.InvokeMode = c.EffectiveInvokeMode()
	}
	if in := c.Cors; in != nil {
		out.Cors = &corsWire{AllowCredentials: in.AllowCredentials, AllowHeaders: in.AllowHeaders, AllowMethods: in.AllowMethods,
			AllowOrigins: in.AllowOrigins, ExposeHeaders: in.ExposeHeaders, MaxAge: in.MaxAge}
	}
	return out
}

func (a *API) createFunctionUrlConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeURLConfig(w, r, body, a.ctl.CreateFunctionUrlConfig, http.StatusCreated, false)
}

func (a *API) updateFunctionUrlConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	return a.writeURLConfig(w, r, body, a.ctl.UpdateFunctionUrlConfig, http.StatusOK, true)
}

type urlConfigWrite func(ctx context.Context, function, qualifier string, in control.URLConfigInput) (*control.URLConfig, error)

func (a *API) writeURLConfig(w http.ResponseWriter, r *http.Request, body []byte, write urlConfigWrite, status int, lastModified bool) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	var req urlConfigRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	c, err := write(r.Context(), name, qualifier, req.input())
	if err != nil {
		return err
	}
	return writeJSON(w, status, a.urlConfigToWire(c, lastModified, false))
}

func (a *API) getFunctionUrlConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	c, err := a.ctl.GetFunctionUrlConfig(name, qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.urlConfigToWire(c, true, true))
}

func (a *API) deleteFunctionUrlConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteFunctionUrlConfig(r.Context(), name, qualifier); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listFunctionUrlConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	max, err := maxItems(r, control.MaxFunctionURLConfigPage)
	if err != nil {
		return err
	}
	cs, next, err := a.ctl.ListFunctionUrlConfigs(name, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	list := make([]urlConfigWire, 0, len(cs))
	for i := range cs {
		list = append(list, a.urlConfigToWire(&cs[i], true, true))
	}
	out := map[string]any{"FunctionUrlConfigs": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}
