package lambdaapi

import (
	"net/http"
	"strconv"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
)

// Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
// ListLayerVersions, DeleteLayerVersion and the layer version permissions
// (control/layer.go, control/layerpolicy.go hold the rules).

type layerContentInput struct {
	ZipFile         []byte `json:"ZipFile"` // base64 in JSON, as the model's Blob
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
}

type publishLayerVersionRequest struct {
	Content                 *layerContentInput `json:"Content"`
	Description             string             `json:"Description"`
	CompatibleRuntimes      []string           `json:"CompatibleRuntimes"`
	LicenseInfo             string             `json:"LicenseInfo"`
	CompatibleArchitectures []string           `json:"CompatibleArchitectures"`
}

type layerContentOutput struct {
	Location   string `json:"Location"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// layerVersionItem is the model's LayerVersionsListItem. AWS answers
// CompatibleRuntimes and CompatibleArchitectures as they were published: absent
// when not given, [] when given empty (LocalStack's recordings of AWS).
type layerVersionItem struct {
	LayerVersionArn         string    `json:"LayerVersionArn"`
	Version                 int64     `json:"Version"`
	Description             string    `json:"Description"`
	CreatedDate             string    `json:"CreatedDate"`
	CompatibleRuntimes      *[]string `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string    `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures *[]string `json:"CompatibleArchitectures,omitempty"`
}

// layerVersion is GetLayerVersionResponse (and PublishLayerVersion's).
type layerVersion struct {
	Content                 layerContentOutput `json:"Content"`
	LayerArn                string             `json:"LayerArn"`
	LayerVersionArn         string             `json:"LayerVersionArn"`
	Description             string             `json:"Description"`
	CreatedDate             string             `json:"CreatedDate"`
	Version                 int64              `json:"Version"`
	CompatibleRuntimes      *[]string          `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string             `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures *[]string          `json:"CompatibleArchitectures,omitempty"`
}

// asGiven is a compatibility list as it was published: nil (omitted) when
// none was given, [] when one was given empty.
func asGiven(l []string) *[]string {
	if l == nil {
		return nil
	}
	return &l
}

func (a *API) layerVersionToWire(r *http.Request, v *control.LayerVersion) layerVersion {
	return layerVersion{
		Content:         layerContentOutput{Location: a.codeURL(r, v.CodeSHA256), CodeSha256: v.CodeSHA256, CodeSize: v.CodeSize},
		LayerArn:        a.ctl.LayerARN(v.Name, 0),
		LayerVersionArn: a.ctl.LayerARN(v.Name, v.Version),
		Description:     v.Description, CreatedDate: stamp(v.Created), Version: v.Version,
		CompatibleRuntimes: asGiven(v.Runtimes), LicenseInfo: v.LicenseInfo, CompatibleArchitectures: asGiven(v.Archs),
	}
}

func (a *API) layerVersionItemToWire(v *control.LayerVersion) layerVersionItem {
	return layerVersionItem{
		LayerVersionArn: a.ctl.LayerARN(v.Name, v.Version), Version: v.Version,
		Description: v.Description, CreatedDate: stamp(v.Created),
		CompatibleRuntimes: asGiven(v.Runtimes), LicenseInfo: v.LicenseInfo, CompatibleArchitectures: asGiven(v.Archs),
	}
}

// layerVersionNumber parses the VersionNumber label (a long in the model).
func layerVersionNumber(r *http.Request) (int64, error) {
	s := r.PathValue("VersionNumber")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Not confirmed: AWS's answer for a VersionNumber that is not a number.
		return 0, awserr.InvalidParameter("VersionNumber %q is not a number.", s)
	}
	return n, nil
}

func (a *API) publishLayerVersion(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req publishLayerVersionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.Content == nil {
		req.Content = &layerContentInput{} // awsmodel.Validate has refused a missing Content
	}
	if req.Content.S3Bucket != "" || req.Content.S3Key != "" || req.Content.S3ObjectVersion != "" {
		return awserr.InvalidParameter("Paddock takes layer content as Content.ZipFile only: S3 locations are not supported.")
	}
	v, err := a.ctl.PublishLayerVersion(r.Context(), control.PublishLayerInput{
		LayerName: r.PathValue("LayerName"), Zip: req.Content.ZipFile,
		Description: req.Description, LicenseInfo: req.LicenseInfo,
		Runtimes: req.CompatibleRuntimes, Archs: req.CompatibleArchitectures,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.layerVersionToWire(r, v))
}

func (a *API) getLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	n, err := layerVersionNumber(r)
	if err != nil {
		return err
	}
	v, err := a.ctl.GetLayerVersion(r.PathValue("LayerName"), n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.layerVersionToWire(r, v))
}

func (a *API) getLayerVersionByArn(w http.ResponseWriter, r *http.Request, _ []byte) error {
	v, err := a.ctl.GetLayerVersionByArn(r.URL.Query().Get("Arn"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.layerVersionToWire(r, v))
}

// layerFilter reads the CompatibleRuntime and CompatibleArchitecture
// queries (awsmodel.Validate has checked them against the model's enums).
func layerFilter(r *http.Request) control.LayerFilter {
	q := r.URL.Query()
	return control.LayerFilter{Runtime: q.Get("CompatibleRuntime"), Arch: q.Get("CompatibleArchitecture")}
}

func (a *API) listLayerVersions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	max, err := maxItems(r, control.MaxLayerListItems)
	if err != nil {
		return err
	}
	vs, next, err := a.ctl.ListLayerVersions(r.PathValue("LayerName"), layerFilter(r), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	list := make([]layerVersionItem, 0, len(vs))
	for i := range vs {
		list = append(list, a.layerVersionItemToWire(&vs[i]))
	}
	out := map[string]any{"LayerVersions": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) listLayers(w http.ResponseWriter, r *http.Request, _ []byte) error {
	max, err := maxItems(r, control.MaxLayerListItems)
	if err != nil {
		return err
	}
	items, next, err := a.ctl.ListLayers(layerFilter(r), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	type layersListItem struct {
		LayerName             string           `json:"LayerName"`
		LayerArn              string           `json:"LayerArn"`
		LatestMatchingVersion layerVersionItem `json:"LatestMatchingVersion"`
	}
	list := make([]layersListItem, 0, len(items))
	for i := range items {
		list = append(list, layersListItem{items[i].Name, a.ctl.LayerARN(items[i].Name, 0), a.layerVersionItemToWire(&items[i].Latest)})
	}
	out := map[string]any{"Layers": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	n, err := layerVersionNumber(r)
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteLayerVersion(r.Context(), r.PathValue("LayerName"), n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addLayerVersionPermission(w http.ResponseWriter, r *http.Request, body []byte) error {
	n, err := layerVersionNumber(r)
	if err != nil {
		return err
	}
	var req struct {
		StatementId    string `json:"StatementId"`
		Action         string `json:"Action"`
		Principal      string `json:"Principal"`
		OrganizationId string `json:"OrganizationId"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	st, rev, err := a.ctl.AddLayerVersionPermission(r.Context(), r.PathValue("LayerName"), n, control.LayerPermissionInput{
		StatementID: req.StatementId, Action: req.Action, Principal: req.Principal,
		OrganizationID: req.OrganizationId, RevisionID: r.URL.Query().Get("RevisionId"),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"Statement": st, "RevisionId": rev})
}

func (a *API) removeLayerVersionPermission(w http.ResponseWriter, r *http.Request, _ []byte) error {
	n, err := layerVersionNumber(r)
	if err != nil {
		return err
	}
	if err := a.ctl.RemoveLayerVersionPermission(r.Context(), r.PathValue("LayerName"), n,
		r.PathValue("StatementId"), r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getLayerVersionPolicy(w http.ResponseWriter, r *http.Request, _ []byte) error {
	n, err := layerVersionNumber(r)
	if err != nil {
		return err
	}
	policy, rev, err := a.ctl.GetLayerVersionPolicy(r.PathValue("LayerName"), n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"Policy": policy, "RevisionId": rev})
}

// layerRefsToWire is a function configuration's Layers: [{Arn, CodeSize}].
func layerRefsToWire(refs []control.LayerRef) []layerRef {
	if len(refs) == 0 {
		return nil
	}
	out := make([]layerRef, len(refs))
	for i, l := range refs {
		out[i] = layerRef{Arn: l.ARN, CodeSize: l.CodeSize}
	}
	return out
}

// layerRef is the model's Layer, as FunctionConfiguration lists them.
type layerRef struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}
