package lambdaapi

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
)

func (a *API) createCapacityProvider(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req createCapacityProviderRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.VpcConfig == nil {
		return awserr.InvalidParameter("VpcConfig is required.")
	}
	if req.PermissionsConfig == nil {
		return awserr.InvalidParameter("PermissionsConfig is required.")
	}
	cp := control.CapacityProvider{
		Name: req.CapacityProviderName, SubnetIDs: req.VpcConfig.SubnetIds, SecurityGroupIDs: req.VpcConfig.SecurityGroupIds,
		OperatorRoleARN: req.PermissionsConfig.CapacityProviderOperatorRoleArn,
		Scaling:         scalingFromWire(req.CapacityProviderScalingConfig),
		KMSKeyARN:       req.KmsKeyArn, Tags: req.Tags,
	}
	if ir := req.InstanceRequirements; ir != nil {
		if len(ir.Architectures) > 1 {
			return awserr.InvalidParameter("InstanceRequirements.Architectures takes exactly one architecture.")
		}
		if len(ir.Architectures) == 1 {
			cp.Architecture = ir.Architectures[0]
		}
		cp.AllowedTypes, cp.ExcludedTypes = ir.AllowedInstanceTypes, ir.ExcludedInstanceTypes
	}
	out, err := a.ctl.CreateCapacityProvider(r.Context(), cp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"CapacityProvider": cpToWire(out)})
}

func (a *API) cpName(r *http.Request) (string, error) {
	return control.ParseCapacityProviderName(r.PathValue("CapacityProviderName"))
}

func (a *API) getCapacityProvider(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.cpName(r)
	if err != nil {
		return err
	}
	cp, err := a.ctl.GetCapacityProvider(name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"CapacityProvider": cpToWire(cp)})
}

func (a *API) updateCapacityProvider(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := a.cpName(r)
	if err != nil {
		return err
	}
	var req struct {
		CapacityProviderScalingConfig *cpScalingConfig `json:"CapacityProviderScalingConfig"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	var sc *control.CPScaling
	if req.CapacityProviderScalingConfig != nil {
		s := scalingFromWire(req.CapacityProviderScalingConfig)
		sc = &s
	}
	cp, err := a.ctl.UpdateCapacityProvider(r.Context(), name, sc)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"CapacityProvider": cpToWire(cp)})
}

func (a *API) deleteCapacityProvider(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.cpName(r)
	if err != nil {
		return err
	}
	cp, err := a.ctl.DeleteCapacityProvider(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"CapacityProvider": cpToWire(cp)})
}

func (a *API) listCapacityProviders(w http.ResponseWriter, r *http.Request, _ []byte) error {
	max, err := maxItems(r, 50)
	if err != nil {
		return err
	}
	state := r.URL.Query().Get("State")
	switch state {
	case "", control.StatePending, control.StateActive, control.StateFailed, control.StateDeleting:
	default:
		return awserr.Validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [Pending, Active, Failed, Deleting]", state)
	}
	cps, next, err := a.ctl.ListCapacityProviders(state, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	out := struct {
		CapacityProviders []capacityProvider `json:"CapacityProviders"`
		NextMarker        string             `json:"NextMarker,omitempty"`
	}{CapacityProviders: []capacityProvider{}, NextMarker: next}
	for i := range cps {
		out.CapacityProviders = append(out.CapacityProviders, cpToWire(&cps[i]))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) listFunctionVersionsByCapacityProvider(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.cpName(r)
	if err != nil {
		return err
	}
	max, err := maxItems(r, 50)
	if err != nil {
		return err
	}
	arn, refs, next, err := a.ctl.ListFunctionVersionsByCapacityProvider(name, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	type item struct {
		FunctionArn string `json:"FunctionArn"`
		State       string `json:"State"`
	}
	out := struct {
		CapacityProviderArn string `json:"CapacityProviderArn"`
		FunctionVersions    []item `json:"FunctionVersions"`
		NextMarker          string `json:"NextMarker,omitempty"`
	}{CapacityProviderArn: arn, FunctionVersions: []item{}, NextMarker: next}
	for _, ref := range refs {
		out.FunctionVersions = append(out.FunctionVersions, item{ref.FunctionARN, ref.State})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) createFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req createFunctionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.Role == "" {
		return awserr.InvalidParameter("Role is required.")
	}
	if req.Code == nil {
		return awserr.InvalidParameter("Code is required.")
	}
	if req.PackageType != "" && req.PackageType != "Zip" {
		return awserr.InvalidParameter("Paddock supports PackageType Zip only.")
	}
	if req.Code.S3Bucket != "" || req.Code.ImageUri != "" {
		return awserr.InvalidParameter("Paddock takes code as Code.ZipFile only: S3 locations and images are not supported.")
	}
	c := control.Config{
		FunctionName: req.FunctionName, Runtime: req.Runtime, Role: req.Role, Handler: req.Handler,
		Description: req.Description, LMI: lmiFromWire(req.CapacityProviderConfig),
	}
	if req.Timeout != nil {
		c.Timeout = *req.Timeout
		if c.Timeout == 0 {
			c.Timeout = -1
		}
	}
	if req.MemorySize != nil {
		c.MemorySize = *req.MemorySize
		if c.MemorySize == 0 {
			c.MemorySize = -1
		}
	}
	if req.Environment != nil {
		c.Env = req.Environment.Variables
	}
	if req.TracingConfig != nil {
		c.TracingMode = req.TracingConfig.Mode
	}
	if req.DeadLetterConfig != nil {
		c.DeadLetterTarget = req.DeadLetterConfig.TargetArn
	}
	arch, err := oneArchitecture(req.Architectures)
	if err != nil {
		return err
	}
	c.Architecture = arch
	if req.EphemeralStorage != nil {
		c.EphemeralStorage = req.EphemeralStorage.Size
		if c.EphemeralStorage == 0 {
			c.EphemeralStorage = -1
		}
	}
	if lc := req.LoggingConfig; lc != nil {
		c.LogFormat, c.AppLogLevel, c.SystemLogLevel, c.LogGroup = lc.LogFormat, lc.ApplicationLogLevel, lc.SystemLogLevel, lc.LogGroup
	}
	out, err := a.ctl.CreateFunction(r.Context(), control.CreateFunctionInput{
		Config: c, Zip: req.Code.ZipFile, Layers: req.Layers, Publish: req.Publish, PublishTo: req.PublishTo, Tags: req.Tags,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.configToWire(out))
}

func (a *API) getFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	d, err := a.ctl.GetFunction(name, q)
	if err != nil {
		return err
	}
	cfg := a.configToWire(&d.Config)
	if q == control.Latest {
		cfg = a.versionToWire(&d.Config)
	}
	out := map[string]any{
		"Configuration": cfg,
		"Code":          map[string]string{"RepositoryType": "S3", "Location": a.codeURL(r, d.Config.CodeSHA256)},
	}
	if len(d.Tags) > 0 {
		out["Tags"] = d.Tags
	}
	if n, err := a.ctl.GetFunctionConcurrency(name); err == nil && n != nil {
		out["Concurrency"] = map[string]int{"ReservedConcurrentExecutions": *n}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	d, err := a.ctl.GetFunction(name, q)
	if err != nil {
		return err
	}
	if q == control.Latest {
		return writeJSON(w, http.StatusOK, a.versionToWire(&d.Config))
	}
	return writeJSON(w, http.StatusOK, a.configToWire(&d.Config))
}

func (a *API) listFunctions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	max, err := maxItems(r, 10000)
	if err != nil {
		return err
	}
	fv := r.URL.Query().Get("FunctionVersion")
	if fv != "" && fv != "ALL" {
		return awserr.Validation("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", fv)
	}
	cs, next, err := a.ctl.ListFunctions(r.URL.Query().Get("Marker"), max, fv == "ALL")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configList("Functions", cs, next, a.configToWire))
}

// configList is a page of configurations in the wire shape toWire gives.
func (a *API) configList(field string, cs []control.Config, next string, toWire func(*control.Config) functionConfiguration) map[string]any {
	list := make([]functionConfiguration, 0, len(cs))
	for i := range cs {
		list = append(list, toWire(&cs[i]))
	}
	out := map[string]any{field: list}
	if next != "" {
		out["NextMarker"] = next
	}
	return out
}

func (a *API) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "UpdateFunctionConfiguration")
	if err != nil {
		return err
	}
	var req updateFunctionConfigurationRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	p := control.ConfigPatch{
		Role: req.Role, Handler: req.Handler, Description: req.Description, Runtime: req.Runtime,
		Timeout: req.Timeout, MemorySize: req.MemorySize, RevisionID: req.RevisionId,
		LMI: lmiFromWire(req.CapacityProviderConfig), Layers: req.Layers,
	}
	if req.Environment != nil {
		env := req.Environment.Variables
		p.Env = &env
	}
	if req.TracingConfig != nil {
		p.TracingMode = &req.TracingConfig.Mode
	}
	if req.DeadLetterConfig != nil {
		p.DeadLetterTarget = &req.DeadLetterConfig.TargetArn
	}
	if req.EphemeralStorage != nil {
		p.EphemeralStorage = &req.EphemeralStorage.Size
	}
	if lc := req.LoggingConfig; lc != nil {
		if lc.LogFormat != "" {
			p.LogFormat = &lc.LogFormat
		}
		if lc.ApplicationLogLevel != "" {
			p.AppLogLevel = &lc.ApplicationLogLevel
		}
		if lc.SystemLogLevel != "" {
			p.SystemLogLevel = &lc.SystemLogLevel
		}
		if lc.LogGroup != "" {
			p.LogGroup = &lc.LogGroup
		}
	}
	out, err := a.ctl.UpdateFunctionConfiguration(r.Context(), name, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configToWire(out))
}

func (a *API) updateFunctionCode(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "UpdateFunctionCode")
	if err != nil {
		return err
	}
	var req updateFunctionCodeRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.S3Bucket != "" || req.ImageUri != "" {
		return awserr.InvalidParameter("Paddock takes code as ZipFile only: S3 locations and images are not supported.")
	}
	in := control.UpdateCodeInput{Zip: req.ZipFile, Publish: req.Publish, PublishTo: req.PublishTo, DryRun: req.DryRun, RevisionID: req.RevisionId}
	if in.Architecture, err = oneArchitecture(req.Architectures); err != nil {
		return err
	}
	out, err := a.ctl.UpdateFunctionCode(r.Context(), name, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configToWire(out))
}

func (a *API) deleteFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	async, err := a.ctl.DeleteFunction(r.Context(), name, q)
	if err != nil {
		return err
	}
	if async {
		// AWS answers 202 for a function on a capacity provider (its
		// deletion is asynchronous), 204 otherwise; the model binds the
		// status to DeleteFunctionResponse.StatusCode.
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) publishVersion(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := unqualifiedName(r, "PublishVersion")
	if err != nil {
		return err
	}
	var req publishVersionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	out, err := a.ctl.PublishVersion(r.Context(), name, control.PublishVersionInput{
		CodeSHA256: req.CodeSha256, Description: req.Description, RevisionID: req.RevisionId, PublishTo: req.PublishTo,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.configToWire(out))
}

func (a *API) listVersionsByFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	max, err := maxItems(r, 10000)
	if err != nil {
		return err
	}
	cs, next, err := a.ctl.ListVersionsByFunction(name, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.configList("Versions", cs, next, a.versionToWire))
}

func (a *API) aliasInput(body []byte) (control.AliasInput, error) {
	var req aliasRequest
	if err := decode(body, &req); err != nil {
		return control.AliasInput{}, err
	}
	in := control.AliasInput{Version: req.FunctionVersion, Description: req.Description, RevisionID: req.RevisionId}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.RoutingConfig != nil {
		weights := req.RoutingConfig.AdditionalVersionWeights
		in.Weights = &weights
	}
	return in, nil
}

func (a *API) createAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	in, err := a.aliasInput(body)
	if err != nil {
		return err
	}
	al, err := a.ctl.CreateAlias(r.Context(), name, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.aliasToWire(al))
}

func (a *API) getAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	al, err := a.ctl.GetAlias(name, r.PathValue("Name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.aliasToWire(al))
}

func (a *API) updateAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	in, err := a.aliasInput(body)
	if err != nil {
		return err
	}
	in.Name = r.PathValue("Name")
	al, err := a.ctl.UpdateAlias(r.Context(), name, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.aliasToWire(al))
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	if err := a.ctl.DeleteAlias(r.Context(), name, r.PathValue("Name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listAliases(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, _, err := functionName(r)
	if err != nil {
		return err
	}
	max, err := maxItems(r, 10000)
	if err != nil {
		return err
	}
	als, next, err := a.ctl.ListAliases(name, r.URL.Query().Get("FunctionVersion"), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	list := make([]aliasConfiguration, 0, len(als))
	for i := range als {
		list = append(list, a.aliasToWire(&als[i]))
	}
	out := map[string]any{"Aliases": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) scalingQualifier(r *http.Request) (string, string, error) {
	name, q, err := functionName(r)
	if err != nil {
		return "", "", err
	}
	if q == "" {
		return "", "", awserr.InvalidParameter("Qualifier is required: $LATEST.PUBLISHED or a version number.")
	}
	if q != control.LatestPublished {
		for _, c := range q {
			if c < '0' || c > '9' {
				return "", "", awserr.Validation("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST\\.PUBLISHED|[0-9]+)", q)
			}
		}
	}
	return name, q, nil
}

func (a *API) putFunctionScalingConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, q, err := a.scalingQualifier(r)
	if err != nil {
		return err
	}
	var req struct {
		FunctionScalingConfig *functionScalingConfig `json:"FunctionScalingConfig"`
	}
	if err := decode(body, &req); err != nil {
		return err
	}
	var sc control.ScalingConfig
	if f := req.FunctionScalingConfig; f != nil {
		sc.Min, sc.Max = f.MinExecutionEnvironments, f.MaxExecutionEnvironments
	}
	state, err := a.ctl.PutFunctionScalingConfig(r.Context(), name, q, sc)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"FunctionState": state})
}

func (a *API) getFunctionScalingConfig(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, q, err := a.scalingQualifier(r)
	if err != nil {
		return err
	}
	sc, err := a.ctl.GetFunctionScalingConfig(name, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"FunctionArn":                    sc.FunctionARN,
		"RequestedFunctionScalingConfig": functionScalingConfig{sc.Requested.Min, sc.Requested.Max},
		"AppliedFunctionScalingConfig":   functionScalingConfig{sc.Applied.Min, sc.Applied.Max},
	})
}

// unqualifiedName parses {fn} for an operation on $LATEST, which takes no qualifier.
func unqualifiedName(r *http.Request, op string) (string, error) {
	name, q, err := functionName(r)
	if err != nil {
		return "", err
	}
	if q != "" {
		return "", awserr.InvalidParameter("%s applies to the unqualified function ($LATEST): remove the qualifier %q.", op, q)
	}
	return name, nil
}

// oneArchitecture takes the model's one-item Architectures list.
func oneArchitecture(list []string) (string, error) {
	switch len(list) {
	case 0:
		return "", nil
	case 1:
		return list[0], nil
	default:
		return "", awserr.InvalidParameter("Architectures takes exactly one architecture; got %d.", len(list))
	}
}
