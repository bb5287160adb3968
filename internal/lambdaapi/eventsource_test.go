package lambdaapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/router"
)

// TestEventSourceMappingRoutes drives the five event source mapping
// operations over HTTP against a real control plane on an embedded
// engine: the status codes (202 for Create, Update and Delete), the
// members AWS answers for an SQS mapping and for a stream mapping (the key
// sets of the answers LocalStack's snapshot tests recorded against AWS:
// test_function_name_variations, test_create_kinesis_event_source_mapping),
// and each error with its code, the key of its message, its Type and its
// text.
func TestEventSourceMappingRoutes(t *testing.T) {
	_, ctl := controlWithFunctions(t, "f")
	srv := httptest.NewServer(New(ctl, router.New(), nil))
	defer srv.Close()
	call := func(method, path, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: answer %q is not a JSON object", method, path, b)
		}
		return resp.StatusCode, resp.Header, v
	}
	keys := func(v map[string]any) string {
		var ks []string
		for k := range v {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	const (
		base   = "/2015-03-31/event-source-mappings"
		queue  = "arn:aws:sqs:us-east-1:000000000000:q"
		stream = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
		fnARN  = "arn:aws:lambda:us-east-1:000000000000:function:f"
	)

	status, _, q := call("POST", base+"/", `{"FunctionName":"f","EventSourceArn":"`+queue+`"}`)
	if status != http.StatusAccepted {
		t.Fatalf("Create: %d %v", status, q)
	}
	if got, want := keys(q), "BatchSize,EventSourceArn,EventSourceMappingArn,FunctionArn,FunctionResponseTypes,LastModified,MaximumBatchingWindowInSeconds,State,StateTransitionReason,UUID"; got != want {
		t.Fatalf("SQS mapping members %s, want AWS's %s", got, want)
	}
	uuid, _ := q["UUID"].(string)
	if q["State"] != "Creating" || q["StateTransitionReason"] != "USER_INITIATED" || q["BatchSize"] != 10.0 || q["FunctionArn"] != fnARN ||
		q["EventSourceMappingArn"] != "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"+uuid ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(uuid) {
		t.Fatalf("SQS mapping: %v", q)
	}
	if lm, ok := q["LastModified"].(float64); !ok || time.Since(time.UnixMilli(int64(lm*1000))) > time.Minute {
		t.Fatalf("LastModified %v: want epoch seconds of now", q["LastModified"])
	}

	status, _, k := call("POST", base, `{"FunctionName":"f:$LATEST","EventSourceArn":"`+stream+`","StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1741010802,"BatchSize":5,`+
		`"FilterCriteria":{"Filters":[{"Pattern":"{\"data\":{\"t\":[\"a\"]}}"}]},"DestinationConfig":{"OnFailure":{"Destination":"`+queue+`-dlq"}}}`)
	if status != http.StatusAccepted {
		t.Fatalf("Create of a stream mapping: %d %v", status, k)
	}
	if got, want := keys(k), "BatchSize,BisectBatchOnFunctionError,DestinationConfig,EventSourceArn,EventSourceMappingArn,FilterCriteria,FunctionArn,FunctionResponseTypes,"+
		"LastModified,LastProcessingResult,MaximumBatchingWindowInSeconds,MaximumRecordAgeInSeconds,MaximumRetryAttempts,ParallelizationFactor,"+
		"StartingPosition,StartingPositionTimestamp,State,StateTransitionReason,TumblingWindowInSeconds,UUID"; got != want {
		t.Fatalf("stream mapping members %s, want %s", got, want)
	}
	if k["FunctionArn"] != fnARN+":$LATEST" || k["StateTransitionReason"] != "User action" || k["MaximumRetryAttempts"] != -1.0 ||
		k["MaximumRecordAgeInSeconds"] != -1.0 || k["ParallelizationFactor"] != 1.0 || k["StartingPositionTimestamp"] != 1741010802.0 ||
		k["LastProcessingResult"] != "No records processed" {
		t.Fatalf("stream mapping: %v", k)
	}
	if d, _ := json.Marshal(k["DestinationConfig"]); string(d) != `{"OnFailure":{"Destination":"`+queue+`-dlq"}}` {
		t.Fatalf("DestinationConfig %s", d)
	}
	if f, _ := json.Marshal(k["FilterCriteria"]); string(f) != `{"Filters":[{"Pattern":"{\"data\":{\"t\":[\"a\"]}}"}]}` {
		t.Fatalf("FilterCriteria %s", f)
	}

	// Settle enables them.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, _, g := call("GET", base+"/"+uuid, ""); g["State"] == "Enabled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the SQS mapping did not become Enabled")
		}
	}
	if status, _, u := call("PUT", base+"/"+uuid, `{"Enabled":false}`); status != http.StatusAccepted || u["State"] != "Disabling" {
		t.Fatalf("Update disabling: %d %v", status, u)
	}
	if status, _, l := call("GET", base+"?EventSourceArn="+queue, ""); status != 200 || len(l["EventSourceMappings"].([]any)) != 1 {
		t.Fatalf("List by source: %d %v", status, l)
	}
	if status, _, l := call("GET", base+"?MaxItems=1", ""); status != 200 || len(l["EventSourceMappings"].([]any)) != 1 || l["NextMarker"] == nil {
		t.Fatalf("List of 1: %d %v", status, l)
	}
	if status, _, d := call("DELETE", base+"/"+uuid, ""); status != http.StatusAccepted || d["State"] != "Deleting" || d["UUID"] != uuid {
		t.Fatalf("Delete: %d %v", status, d)
	}

	// Errors: code, status, the message's key, Type, text.
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, key, msg           string
		typed                    bool
	}{
		{"Get of an unknown UUID", "GET", base + "/00000000-0000-4000-8000-000000000000", "", 404, "ResourceNotFoundException", "Message",
			"The resource you requested does not exist.", true},
		{"Update of an unknown UUID", "PUT", base + "/nope", `{"Enabled":false}`, 404, "ResourceNotFoundException", "Message",
			"The resource you requested does not exist.", true},
		{"Create without a source", "POST", base, `{"FunctionName":"doesnotexist"}`, 400, "InvalidParameterValueException", "message",
			"Unrecognized event source.", true},
		{"Create for a missing function", "POST", base, `{"FunctionName":"doesnotexist","EventSourceArn":"` + queue + `"}`, 400, "InvalidParameterValueException", "message",
			"Function does not exist", true},
		{"Create twice", "POST", base, `{"FunctionName":"f:$LATEST","EventSourceArn":"` + stream + `","StartingPosition":"LATEST"}`, 409, "ResourceConflictException", "message",
			`The event source arn (" ` + stream + ` ") and function (" f ") provided mapping already exists. Please update or delete the existing mapping with UUID ` + k["UUID"].(string), true},
		{"a starting position AWS's enum does not have", "POST", base, `{"FunctionName":"f","EventSourceArn":"` + stream + `","StartingPosition":"invalid"}`, 400, "ValidationException", "message",
			"1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]", false},
		{"a batch over the model's maximum", "POST", base, `{"FunctionName":"f","EventSourceArn":"` + queue + `","BatchSize":10001}`, 400, "ValidationException", "message",
			"1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000", false},
		{"a Kafka source", "POST", base, `{"FunctionName":"f","SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["kafka:1000"]}},"Topics":["topic"]}`, 400, "InvalidParameterValueException", "message",
			"SelfManagedEventSource is not supported by Paddock: self-managed Apache Kafka event sources are not supported.", true},
		{"an MSK cluster", "POST", base, `{"FunctionName":"f","EventSourceArn":"arn:aws:kafka:us-east-1:000000000000:cluster/c/1"}`, 400, "InvalidParameterValueException", "message",
			"Amazon MSK event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams.", true},
	} {
		status, h, v := call(tc.method, tc.path, tc.body)
		msg, _ := v[tc.key].(string)
		other := map[string]string{"Message": "message", "message": "Message"}[tc.key]
		_, wrongKey := v[other]
		_, typed := v["Type"]
		if status != tc.status || h.Get("X-Amzn-ErrorType") != tc.code || msg != tc.msg || wrongKey || typed != tc.typed {
			t.Errorf("%s: %d %s %v\nwant %d %s %s=%q Type %v", tc.name, status, h.Get("X-Amzn-ErrorType"), v, tc.status, tc.code, tc.key, tc.msg, tc.typed)
		}
	}
	if !slices.Contains(New(nil, nil, nil).Operations(), "ListEventSourceMappings") {
		t.Fatal("ListEventSourceMappings is not routed")
	}
}
