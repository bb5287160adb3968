package lambdaapi

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
)

// The settings infrastructure tools read on every plan: code signing,
// runtime management and recursion. Paddock keeps no code signing
// configurations (CreateCodeSigningConfig is not offered), so a function
// has none, and attaching one is refused as AWS refuses an unknown one.

func (a *API) getFunctionCodeSigningConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := unqualifiedName(r, "GetFunctionCodeSigningConfig")
	if err != nil {
		return err
	}
	if _, err := a.ctl.GetFunction(name, ""); err != nil {
		return err
	}
	// AWS answers both members for a function without a configuration, the ARN empty.
	return writeJSON(w, http.StatusOK, map[string]string{"CodeSigningConfigArn": "", "FunctionName": name})
}

func (a *API) putFunctionCodeSigningConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "PutFunctionCodeSigningConfig")
	if err != nil {
		return err
	}
	var req struct {
		CodeSigningConfigArn string `json:"CodeSigningConfigArn"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	if _, err := a.ctl.GetFunction(name, ""); err != nil {
		return err
	}
	return &awserr.Error{Code: "CodeSigningConfigNotFoundException", Status: http.StatusNotFound, Type: "User",
		Message: "Code signing configuration not found: " + req.CodeSigningConfigArn + ". Paddock does not keep code signing configurations."}
}

func (a *API) deleteFunctionCodeSigningConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := unqualifiedName(r, "DeleteFunctionCodeSigningConfig")
	if err != nil {
		return err
	}
	if _, err := a.ctl.GetFunction(name, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getRuntimeManagementConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	rm, err := a.ctl.GetRuntimeManagementConfig(name, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, runtimeManagementWire(rm))
}

func (a *API) putRuntimeManagementConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	var req struct {
		UpdateRuntimeOn   string `json:"UpdateRuntimeOn"`
		RuntimeVersionArn string `json:"RuntimeVersionArn"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	rm, err := a.ctl.PutRuntimeManagementConfig(r.Context(), name, q, req.UpdateRuntimeOn, req.RuntimeVersionArn)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, runtimeManagementWire(rm))
}

func (a *API) getFunctionRecursionConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := unqualifiedName(r, "GetFunctionRecursionConfig")
	if err != nil {
		return err
	}
	loop, err := a.ctl.GetFunctionRecursionConfig(name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"RecursiveLoop": loop})
}

func (a *API) putFunctionRecursionConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "PutFunctionRecursionConfig")
	if err != nil {
		return err
	}
	var req struct {
		RecursiveLoop string `json:"RecursiveLoop"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	loop, err := a.ctl.PutFunctionRecursionConfig(r.Context(), name, req.RecursiveLoop)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"RecursiveLoop": loop})
}

// runtimeManagementWire is the answer of Get/PutRuntimeManagementConfig.
func runtimeManagementWire(rm *control.RuntimeManagement) map[string]string {
	out := map[string]string{"UpdateRuntimeOn": rm.UpdateRuntimeOn, "FunctionArn": rm.FunctionARN}
	if rm.RuntimeVersionARN != "" {
		out["RuntimeVersionArn"] = rm.RuntimeVersionARN
	}
	return out
}
