package lambdaapi

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/control"
)

// CreateEventSourceMapping, GetEventSourceMapping, UpdateEventSourceMapping,
// DeleteEventSourceMapping and ListEventSourceMappings: mappings of SQS
// queues, Kinesis streams and DynamoDB streams to functions
// (control/eventsource.go has the rules and where AWS's texts come from).

type filterWire struct {
	Pattern *string `json:"Pattern,omitempty"`
}

type filterCriteriaWire struct {
	Filters []filterWire `json:"Filters"`
}

type scalingConfigWire struct {
	MaximumConcurrency *int `json:"MaximumConcurrency,omitempty"`
}

type mappingRequest struct {
	EventSourceArn                 *string                `json:"EventSourceArn"`
	FunctionName                   *string                `json:"FunctionName"`
	Enabled                        *bool                  `json:"Enabled"`
	BatchSize                      *int                   `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int                   `json:"MaximumBatchingWindowInSeconds"`
	FilterCriteria                 *filterCriteriaWire    `json:"FilterCriteria"`
	FunctionResponseTypes          *[]string              `json:"FunctionResponseTypes"`
	ScalingConfig                  *scalingConfigWire     `json:"ScalingConfig"`
	StartingPosition               *string                `json:"StartingPosition"`
	StartingPositionTimestamp      *float64               `json:"StartingPositionTimestamp"`
	ParallelizationFactor          *int                   `json:"ParallelizationFactor"`
	BisectBatchOnFunctionError     *bool                  `json:"BisectBatchOnFunctionError"`
	MaximumRetryAttempts           *int                   `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds      *int                   `json:"MaximumRecordAgeInSeconds"`
	DestinationConfig              *destinationConfigWire `json:"DestinationConfig"`
	Tags                           map[string]string      `json:"Tags"`
}

func (r *mappingRequest) input() control.MappingInput {
	in := control.MappingInput{
		EventSourceARN: r.EventSourceArn, FunctionName: r.FunctionName, Enabled: r.Enabled,
		BatchSize: r.BatchSize, MaximumBatchingWindow: r.MaximumBatchingWindowInSeconds,
		FunctionResponseTypes: r.FunctionResponseTypes, StartingPosition: r.StartingPosition,
		ParallelizationFactor: r.ParallelizationFactor, BisectBatchOnFunctionError: r.BisectBatchOnFunctionError,
		MaximumRetryAttempts: r.MaximumRetryAttempts, MaximumRecordAgeInSeconds: r.MaximumRecordAgeInSeconds,
		Tags: r.Tags,
	}
	if f := r.FilterCriteria; f != nil {
		patterns := make([]string, 0, len(f.Filters))
		for _, p := range f.Filters {
			if p.Pattern == nil {
				patterns = append(patterns, "")
			} else {
				patterns = append(patterns, *p.Pattern)
			}
		}
		in.FilterPatterns = &patterns
	}
	if sc := r.ScalingConfig; sc != nil {
		n := 0
		if sc.MaximumConcurrency != nil {
			n = *sc.MaximumConcurrency
		}
		in.MaximumConcurrency = &n
	}
	if ts := r.StartingPositionTimestamp; ts != nil {
		sec, frac := math.Modf(*ts)
		t := time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
		in.StartingPositionTimestamp = &t
	}
	if d := r.DestinationConfig; d != nil {
		empty := ""
		in.OnSuccess, in.OnFailure = &empty, &empty
		if d.OnSuccess != nil && d.OnSuccess.Destination != nil {
			in.OnSuccess = d.OnSuccess.Destination
		}
		if d.OnFailure != nil && d.OnFailure.Destination != nil {
			in.OnFailure = d.OnFailure.Destination
		}
	}
	return in
}

// mappingWire is the model's EventSourceMappingConfiguration as AWS
// answers it for each kind of source: an SQS mapping has no stream
// members; a stream mapping always has its error handling members, with
// DestinationConfig.OnFailure an empty object when none is set, and
// LastProcessingResult. FunctionResponseTypes is always there (empty when
// none); FilterCriteria and ScalingConfig only when set.
type mappingWire struct {
	UUID                           string                 `json:"UUID"`
	EventSourceArn                 string                 `json:"EventSourceArn"`
	EventSourceMappingArn          string                 `json:"EventSourceMappingArn"`
	FunctionArn                    string                 `json:"FunctionArn"`
	State                          string                 `json:"State"`
	StateTransitionReason          string                 `json:"StateTransitionReason"`
	LastModified                   json.Number            `json:"LastModified"`
	BatchSize                      int                    `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int                    `json:"MaximumBatchingWindowInSeconds"`
	FunctionResponseTypes          []string               `json:"FunctionResponseTypes"`
	FilterCriteria                 *filterCriteriaWire    `json:"FilterCriteria,omitempty"`
	ScalingConfig                  *scalingConfigWire     `json:"ScalingConfig,omitempty"`
	StartingPosition               string                 `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      *json.Number           `json:"StartingPositionTimestamp,omitempty"`
	ParallelizationFactor          *int                   `json:"ParallelizationFactor,omitempty"`
	BisectBatchOnFunctionError     *bool                  `json:"BisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts           *int                   `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds      *int                   `json:"MaximumRecordAgeInSeconds,omitempty"`
	TumblingWindowInSeconds        *int                   `json:"TumblingWindowInSeconds,omitempty"`
	DestinationConfig              *destinationConfigWire `json:"DestinationConfig,omitempty"`
	LastProcessingResult           string                 `json:"LastProcessingResult,omitempty"`
}

func (a *API) mappingToWire(m *control.MappingConfig) mappingWire {
	w := mappingWire{
		UUID: m.UUID, EventSourceArn: m.EventSourceARN, EventSourceMappingArn: a.ctl.MappingARN(m.UUID),
		FunctionArn: a.ctl.FunctionARN(m.Function, m.Qualifier), State: m.State, StateTransitionReason: m.StateTransitionReason,
		LastModified: epochSeconds(m.LastModified.UnixMilli()), BatchSize: m.BatchSize,
		MaximumBatchingWindowInSeconds: m.MaximumBatchingWindowInSeconds,
		FunctionResponseTypes:          append([]string{}, m.FunctionResponseTypes...),
	}
	if len(m.FilterPatterns) > 0 {
		w.FilterCriteria = &filterCriteriaWire{}
		for i := range m.FilterPatterns {
			w.FilterCriteria.Filters = append(w.FilterCriteria.Filters, filterWire{Pattern: &m.FilterPatterns[i]})
		}
	}
	if m.MaximumConcurrency > 0 {
		n := m.MaximumConcurrency
		w.ScalingConfig = &scalingConfigWire{MaximumConcurrency: &n}
	}
	if m.Stream() {
		parallel, bisect, retries, age, tumbling := m.ParallelizationFactor, m.BisectBatchOnFunctionError, m.MaximumRetryAttempts, m.MaximumRecordAgeInSeconds, 0
		w.StartingPosition = m.StartingPosition
		if m.StartingPositionTimestamp != nil {
			ts := epochSeconds(m.StartingPositionTimestamp.UnixMilli())
			w.StartingPositionTimestamp = &ts
		}
		w.ParallelizationFactor, w.BisectBatchOnFunctionError, w.MaximumRetryAttempts, w.MaximumRecordAgeInSeconds, w.TumblingWindowInSeconds =
			&parallel, &bisect, &retries, &age, &tumbling
		w.DestinationConfig = &destinationConfigWire{OnFailure: destinationToWire(m.OnFailure)}
		w.LastProcessingResult = "No records processed"
	}
	return w
}

func (a *API) createEventSourceMapping(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req mappingRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	m, err := a.ctl.CreateEventSourceMapping(r.Context(), req.input())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, a.mappingToWire(m))
}

func (a *API) getEventSourceMapping(w http.ResponseWriter, r *http.Request, _ []byte) error {
	m, err := a.ctl.GetEventSourceMapping(r.PathValue("UUID"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.mappingToWire(m))
}

func (a *API) updateEventSourceMapping(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req mappingRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	in := req.input()
	in.EventSourceARN, in.StartingPosition = nil, nil // not members of UpdateEventSourceMappingRequest
	m, err := a.ctl.UpdateEventSourceMapping(r.Context(), r.PathValue("UUID"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, a.mappingToWire(m))
}

func (a *API) deleteEventSourceMapping(w http.ResponseWriter, r *http.Request, _ []byte) error {
	m, err := a.ctl.DeleteEventSourceMapping(r.Context(), r.PathValue("UUID"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, a.mappingToWire(m))
}

func (a *API) listEventSourceMappings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	max, err := maxItems(r, 10000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ms, next, err := a.ctl.ListEventSourceMappings(q.Get("EventSourceArn"), q.Get("FunctionName"), q.Get("Marker"), max)
	if err != nil {
		return err
	}
	list := make([]mappingWire, 0, len(ms))
	for i := range ms {
		list = append(list, a.mappingToWire(&ms[i]))
	}
	out := map[string]any{"EventSourceMappings": list}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}
