package lambdaapi

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/control"
)

// AddPermission, RemovePermission and GetPolicy: Paddock stores resource
// policies and returns them; it does not enforce them (control/policy.go).

type addPermissionRequest struct {
	StatementId           string `json:"StatementId"`
	Action                string `json:"Action"`
	Principal             string `json:"Principal"`
	SourceArn             string `json:"SourceArn"`
	SourceAccount         string `json:"SourceAccount"`
	EventSourceToken      string `json:"EventSourceToken"`
	RevisionId            string `json:"RevisionId"`
	PrincipalOrgID        string `json:"PrincipalOrgID"`
	FunctionUrlAuthType   string `json:"FunctionUrlAuthType"`
	InvokedViaFunctionUrl *bool  `json:"InvokedViaFunctionUrl"`
}

func (a *API) addPermission(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	var req addPermissionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	st, err := a.ctl.AddPermission(r.Context(), name, qualifier, control.PermissionInput{
		StatementID: req.StatementId, Action: req.Action, Principal: req.Principal,
		SourceArn: req.SourceArn, SourceAccount: req.SourceAccount, EventSourceToken: req.EventSourceToken,
		PrincipalOrgID: req.PrincipalOrgID, FunctionURLAuthType: req.FunctionUrlAuthType,
		InvokedViaFunctionURL: req.InvokedViaFunctionUrl, RevisionID: req.RevisionId,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"Statement": st})
}

func (a *API) removePermission(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	if err := a.ctl.RemovePermission(r.Context(), name, qualifier, r.PathValue("StatementId"), r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, qualifier, err := functionName(r)
	if err != nil {
		return err
	}
	policy, rev, err := a.ctl.GetPolicy(name, qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Policy": policy, "RevisionId": rev})
}
