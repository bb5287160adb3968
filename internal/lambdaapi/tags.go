package lambdaapi

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
)

// TagResource, UntagResource and ListTags: the rules are in control/tags.go.

type tagResourceRequest struct {
	Tags map[string]string `json:"Tags"`
}

func (a *API) tagResource(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req tagResourceRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.Tags == nil {
		return awserr.InvalidParameter("A list of tags is required.")
	}
	if err := a.ctl.TagResource(r.Context(), r.PathValue("Resource"), req.Tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) untagResource(w http.ResponseWriter, r *http.Request, _ []byte) error {
	keys := r.URL.Query()["tagKeys"]
	if err := a.ctl.UntagResource(r.Context(), r.PathValue("Resource"), keys); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request, _ []byte) error {
	tags, err := a.ctl.ListTags(r.PathValue("Resource"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Tags": tags})
}
