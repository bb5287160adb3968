package lambdaapi

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/paddockhq/paddock/internal/awsmodel"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/scaler"
)

// Paddock-specific read APIs live under /paddock/v1/ so they can never
// collide with a Lambda operation, and go through wrap like every Lambda
// route: fleet status shows function names and load, so it is no more
// public than ListFunctions.

// StatusSource is what the status API reads the fleet from: the scaler's
// last reconcile (*scaler.Loop implements it).
type StatusSource interface {
	Status() []scaler.VersionStatus
	Instances() []scaler.InstanceStatus
}

// StatusResponse is the body of GET /paddock/v1/status. `paddock status`
// decodes it with this same type, so the CLI and the server cannot drift.
type StatusResponse struct {
	CapacityProviders []CapacityProviderStatus `json:"capacityProviders"`
	Versions          []scaler.VersionStatus   `json:"versions"`
	Time              string                   `json:"time"` // RFC 3339, when the answer was made
	// Cluster is set on a server of a cluster (paddock server).
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is the servers sharing the engine and the hosts that joined.
type ClusterStatus struct {
	This   string `json:"this"`   // the answering server's API URL
	Leader string `json:"leader"` // the leader's API URL; "" during an election
	// LeadingSince is when the answering server began to lead (run the
	// scaler and the fleet); nil when it does not lead.
	LeadingSince *time.Time     `json:"leadingSince,omitempty"`
	Servers      []ServerStatus `json:"servers"`
	Hosts        []HostStatus   `json:"hosts"`
}

// ServerStatus is one server as it announces itself.
type ServerStatus struct {
	Node    string    `json:"node"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
	Leader  bool      `json:"leader"`
}

// HostStatus is one joined host (an instance agent).
type HostStatus struct {
	ID               string  `json:"id"`
	Type             string  `json:"type"`
	Arch             string  `json:"arch"`
	Provider         string  `json:"provider"`
	Address          string  `json:"address"`               // its invoke port
	Instance         string  `json:"instance,omitempty"`    // the instance it is bound to, as the leader sees it
	HeartbeatAgeSecs float64 `json:"heartbeatAgeSeconds"`   // since its last beat reached this server
	EEs              int     `json:"executionEnvironments"` // EEs its agent reports
	Routed           int     `json:"routedEnvironments"`    // of which this server routes invokes to
}

// ClusterSource is what the status API reads the cluster from.
type ClusterSource interface {
	Cluster() ClusterStatus
}

// CapacityProviderStatus is one capacity provider with its instances and
// their allocation summed.
type CapacityProviderStatus struct {
	Name         string `json:"name"`
	ARN          string `json:"arn"`
	State        string `json:"state"`
	Architecture string `json:"architecture"`
	MaxVCPUCount int    `json:"maxVCpuCount"`
	ScalingMode  string `json:"scalingMode"`
	// TargetPercent is the Manual mode's CPU target; 0 in Auto mode, where
	// the scaler uses its own target.
	TargetPercent      float64                 `json:"targetPercent"`
	Instances          []scaler.InstanceStatus `json:"instances"`
	VCPUAllocated      float64                 `json:"vcpuAllocated"`
	VCPUAvailable      float64                 `json:"vcpuAvailable"`
	MemoryAllocatedMiB int                     `json:"memoryAllocatedMiB"`
	MemoryAvailableMiB int                     `json:"memoryAvailableMiB"`
}

// StateDeleted marks, in a status answer, a capacity provider that the
// control plane no longer has but whose instances the scaler has not
// terminated yet (they wait out the empty-instance cooldown). Showing them
// keeps every running instance visible.
const StateDeleted = "Deleted"

// HandleStatus serves GET /paddock/v1/status from source. It is separate
// from New so that an API without a scaler (handler tests, a future
// API-only role) simply has no status route and answers it with the
// catch-all UnknownOperationException. Call it once: http.ServeMux panics
// on a duplicate pattern.
func (a *API) HandleStatus(source StatusSource) {
	a.mux.Handle("GET /paddock/v1/status", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		// The fleet is the leader's to know (its scaler runs it): a
		// follower hands the question on, and answers itself only while
		// no server leads.
		if a.leader != nil {
			if to, self := a.leader(); !self && to != "" {
				if target, err := url.Parse(to); err == nil {
					a.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), leaderURLKey{}, target)))
					return nil
				}
			}
		}
		resp := buildStatus(a.ctl.CapacityProviders(), source.Instances(), source.Status(), time.Now())
		if a.cluster != nil {
			c := a.cluster.Cluster()
			resp.Cluster = &c
		}
		return writeJSON(w, http.StatusOK, resp)
	}))
}

// HandleCluster adds the cluster's servers and hosts to the status.
func (a *API) HandleCluster(source ClusterSource) { a.cluster = source }

// buildStatus groups instances under their capacity provider and sums
// their allocation. Slices are never nil, so clients always see arrays.
func buildStatus(cps []control.CapacityProvider, insts []scaler.InstanceStatus, versions []scaler.VersionStatus, now time.Time) StatusResponse {
	byName := make(map[string]*CapacityProviderStatus, len(cps))
	out := make([]*CapacityProviderStatus, 0, len(cps))
	for _, cp := range cps {
		s := &CapacityProviderStatus{
			Name: cp.Name, ARN: cp.ARN, State: cp.State, Architecture: cp.Architecture,
			MaxVCPUCount: cp.Scaling.MaxVCPU, ScalingMode: cp.Scaling.Mode,
			Instances: []scaler.InstanceStatus{},
		}
		if cp.Scaling.Mode == "Manual" && len(cp.Scaling.Policies) > 0 {
			s.TargetPercent = cp.Scaling.Policies[0].Target
		}
		byName[cp.Name] = s
		out = append(out, s)
	}
	for _, in := range insts {
		s := byName[in.CapacityProvider]
		if s == nil {
			s = &CapacityProviderStatus{Name: in.CapacityProvider, State: StateDeleted, Instances: []scaler.InstanceStatus{}}
			byName[in.CapacityProvider] = s
			out = append(out, s)
		}
		s.Instances = append(s.Instances, in)
		s.VCPUAllocated += in.VCPUAllocated
		s.VCPUAvailable += in.VCPUAvailable
		s.MemoryAllocatedMiB += in.MemoryAllocatedMiB
		s.MemoryAvailableMiB += in.MemoryAvailableMiB
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	resp := StatusResponse{
		CapacityProviders: make([]CapacityProviderStatus, len(out)),
		Versions:          append([]scaler.VersionStatus{}, versions...),
		Time:              now.UTC().Format(time.RFC3339),
	}
	for i, s := range out {
		sort.Slice(s.Instances, func(i, j int) bool { return s.Instances[i].ID < s.Instances[j].ID })
		resp.CapacityProviders[i] = *s
	}
	// Numeric version order: "fn:10" after "fn:9", unlike the router keys.
	sort.SliceStable(resp.Versions, func(i, j int) bool {
		a, b := resp.Versions[i], resp.Versions[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		return a.Version < b.Version
	})
	return resp
}
