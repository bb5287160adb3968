package lambdaapi

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
)

func (a *API) putFunctionConcurrency(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "PutFunctionConcurrency")
	if err != nil {
		return err
	}
	var req struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.ReservedConcurrentExecutions == nil {
		return awserr.InvalidParameter("ReservedConcurrentExecutions is required.")
	}
	n, err := a.ctl.PutFunctionConcurrency(r.Context(), name, *req.ReservedConcurrentExecutions)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"ReservedConcurrentExecutions": n})
}

func (a *API) getFunctionConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := unqualifiedName(r, "GetFunctionConcurrency")
	if err != nil {
		return err
	}
	n, err := a.ctl.GetFunctionConcurrency(name)
	if err != nil {
		return err
	}
	out := map[string]any{}
	if n != nil {
		out["ReservedConcurrentExecutions"] = *n
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := unqualifiedName(r, "DeleteFunctionConcurrency")
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteFunctionConcurrency(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type provisionedConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

func (a *API) provisionedToWire(p *control.Provisioned, withARN bool) provisionedConfig {
	out := provisionedConfig{
		RequestedProvisionedConcurrentExecutions: p.Requested,
		AvailableProvisionedConcurrentExecutions: p.Allocated,
		AllocatedProvisionedConcurrentExecutions: p.Allocated,
		Status:                                   p.Status, StatusReason: p.Reason, LastModified: stamp(p.LastModified),
	}
	if withARN {
		out.FunctionArn = a.ctl.FunctionARN(p.Function, p.Qualifier)
	}
	return out
}

// provisionedQualifier parses the function and the required Qualifier.
func provisionedQualifier(r *http.Request) (string, string, error) {
	name, q, err := functionName(r)
	if err != nil {
		return "", "", err
	}
	if q == "" {
		return "", "", awserr.InvalidParameter("Qualifier is required: a version number or an alias.")
	}
	return name, q, nil
}

func (a *API) putProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, q, err := provisionedQualifier(r)
	if err != nil {
		return err
	}
	var req struct {
		ProvisionedConcurrentExecutions *int `json:"ProvisionedConcurrentExecutions"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.ProvisionedConcurrentExecutions == nil {
		return awserr.InvalidParameter("ProvisionedConcurrentExecutions is required.")
	}
	p, err := a.ctl.PutProvisionedConcurrencyConfig(r.Context(), name, q, *req.ProvisionedConcurrentExecutions)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, a.provisionedToWire(p, false))
}

// getOrListProvisionedConcurrency serves GetProvisionedConcurrencyConfig
// and, with ?List=ALL, ListProvisionedConcurrencyConfigs (one path in the model).
func (a *API) listProvisionedConcurrencyConfigs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	{
		name, _, err := functionName(r)
		if err != nil {
			return err
		}
		max, err := maxItems(r, 50)
		if err != nil {
			return err
		}
		ps, next, err := a.ctl.ListProvisionedConcurrencyConfigs(name, r.URL.Query().Get("Marker"), max)
		if err != nil {
			return err
		}
		list := make([]provisionedConfig, 0, len(ps))
		for i := range ps {
			list = append(list, a.provisionedToWire(&ps[i], true))
		}
		out := map[string]any{"ProvisionedConcurrencyConfigs": list}
		if next != "" {
			out["NextMarker"] = next
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func (a *API) getProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := provisionedQualifier(r)
	if err != nil {
		return err
	}
	p, err := a.ctl.GetProvisionedConcurrencyConfig(name, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.provisionedToWire(p, false))
}

func (a *API) deleteProvisionedConcurrencyConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := provisionedQualifier(r)
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteProvisionedConcurrencyConfig(r.Context(), name, q); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getAccountSettings(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	s := a.ctl.GetAccountSettings()
	return writeJSON(w, http.StatusOK, map[string]any{
		"AccountLimit": map[string]any{
			"TotalCodeSize":                  int64(75) << 30, // Lambda's 75 GB
			"CodeSizeUnzipped":               262144000,
			"CodeSizeZipped":                 52428800,
			"ConcurrentExecutions":           s.ConcurrentExecutions,
			"UnreservedConcurrentExecutions": s.UnreservedConcurrentExecutions,
		},
		"AccountUsage": map[string]any{"TotalCodeSize": s.TotalCodeSize, "FunctionCount": s.FunctionCount},
	})
}
