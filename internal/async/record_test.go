package async

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRecordShape: the record's keys and values as AWS's documentation
// shows an OnFailure record after the retries.
func TestRecordShape(t *testing.T) {
	ev := &Event{RequestID: "e4b46cbf", FunctionARN: "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
		Payload: []byte(`{"ORDER_IDS":["9e07af03"]}`), Attempt: 2}
	res := &Result{Outcome: FunctionError, ExecutedVersion: "$LATEST", FunctionError: "Unhandled",
		Response: []byte(`{"errorMessage":"RequestId: e4b46cbf Process exited before completing request"}`)}
	b, err := json.Marshal(newRecord(ev, res, "RetriesExhausted", time.Date(2019, 11, 14, 18, 16, 5, 568e6, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"e4b46cbf","functionArn":"arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"ORDER_IDS":["9e07af03"]},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"RequestId: e4b46cbf Process exited before completing request"}}`
	if string(b) != want {
		t.Fatalf("record:\n got %s\nwant %s", b, want)
	}
	// An event that aged out while throttled never ran on its last
	// delivery: no response, and only the attempts that ran counted.
	b, _ = json.Marshal(newRecord(&Event{RequestID: "x", Payload: []byte(`{}`)}, nil, "EventAgeExceeded", time.Unix(0, 0)))
	var r map[string]any
	json.Unmarshal(b, &r) //nolint:errcheck
	if _, ok := r["responseContext"]; ok || r["requestContext"].(map[string]any)["approximateInvokeCount"] != 0.0 {
		t.Fatalf("aged-out record: %s", b)
	}
}
