package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/paddockhq/paddock/internal/platform"
)

// ddbEnv is moto_server with a table whose stream has new and old images,
// and a Paddock using it, with the ddbstream function published on one
// LMI EE (so that the order of its log lines is the order it got the
// records).
type ddbEnv struct {
	*env
	motoURL, streamARN, version string
	ddb                         *dynamodb.Client
}

func startDynamoDB(t *testing.T, table string) *ddbEnv {
	t.Helper()
	d := &ddbEnv{motoURL: startMoto(t)}
	d.ddb = dynamodb.New(dynamodb.Options{BaseEndpoint: aws.String(d.motoURL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	out, err := d.ddb.CreateTable(ctx(t), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	d.streamARN = aws.ToString(out.TableDescription.LatestStreamArn)
	if !strings.Contains(d.streamARN, ":table/"+table+"/stream/") {
		t.Fatalf("stream ARN %q", d.streamARN)
	}
	d.env = startIn(t, t.TempDir(), func(o *platform.Options) { o.AWSEndpoint = d.motoURL })
	cp := d.capacityProvider("ddb")
	in := createInput(t, "ddb-fn", cp, fnOpts{})
	in.Code.ZipFile = testdataZip(t, "ddbstream")
	if _, err := d.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatal(err)
	}
	d.scale("ddb-fn", "$LATEST.PUBLISHED", 1, 1)
	v, st := d.publish("ddb-fn")
	if st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	d.version = v
	return d
}

func (d *ddbEnv) put(t *testing.T, table, id string, item map[string]dtypes.AttributeValue) {
	t.Helper()
	item["id"] = &dtypes.AttributeValueMemberS{Value: id}
	if _, err := d.ddb.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem %s: %v", id, err)
	}
}

// lines are the function's stdout lines that start with word, split.
func (d *ddbEnv) lines(word string) [][]string {
	var out [][]string
	for _, r := range d.fetchLogs("ddb-fn", "") {
		text := r.Message
		var j struct{ Message string }
		if json.Unmarshal([]byte(text), &j) == nil {
			text = j.Message
		}
		if f := strings.Fields(text); r.Stream == "stdout" && len(f) > 0 && f[0] == word {
			out = append(out, f)
		}
	}
	return out
}

// TestDynamoDBMappingInOrder: items put, updated and deleted on a table
// with a stream (moto_server) reach the function through an event source
// mapping from TRIM_HORIZON as INSERT, MODIFY and REMOVE, once each and
// in order per key.
func TestDynamoDBMappingInOrder(t *testing.T) {
	const table, keys = "esm-table", 5
	d := startDynamoDB(t, table)
	for k := range keys {
		d.put(t, table, fmt.Sprintf("k%d", k), map[string]dtypes.AttributeValue{"n": &dtypes.AttributeValueMemberN{Value: "1"}})
	}
	for k := range keys {
		id := fmt.Sprintf("k%d", k)
		if _, err := d.ddb.UpdateItem(ctx(t), &dynamodb.UpdateItemInput{TableName: aws.String(table),
			Key:              map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberS{Value: id}},
			UpdateExpression: aws.String("SET n = :n"), ExpressionAttributeValues: map[string]dtypes.AttributeValue{":n": &dtypes.AttributeValueMemberN{Value: "2"}},
		}); err != nil {
			t.Fatalf("UpdateItem %s: %v", id, err)
		}
		if _, err := d.ddb.DeleteItem(ctx(t), &dynamodb.DeleteItemInput{TableName: aws.String(table),
			Key: map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberS{Value: id}}}); err != nil {
			t.Fatalf("DeleteItem %s: %v", id, err)
		}
	}
	m, err := d.lambda.CreateEventSourceMapping(ctx(t), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("ddb-fn:" + d.version), EventSourceArn: aws.String(d.streamARN), BatchSize: aws.Int32(4),
		StartingPosition: types.EventSourcePositionTrimHorizon,
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	if aws.ToString(m.EventSourceArn) != d.streamARN || aws.ToInt32(m.MaximumRetryAttempts) != -1 || aws.ToInt32(m.MaximumRecordAgeInSeconds) != -1 {
		t.Errorf("mapping %s, retries %d, age %d", aws.ToString(m.EventSourceArn), aws.ToInt32(m.MaximumRetryAttempts), aws.ToInt32(m.MaximumRecordAgeInSeconds))
	}
	got := map[string][]string{}
	var seqs []string
	waitForLong(t, "every change to reach the function", 45*time.Second, func() bool {
		got, seqs = map[string][]string{}, nil
		lines := d.lines("ddb")
		for _, f := range lines {
			if len(f) == 4 {
				got[f[1]] = append(got[f[1]], f[2])
				seqs = append(seqs, f[3])
			}
		}
		return len(lines) >= 3*keys
	})
	for k := range keys {
		id := fmt.Sprintf("k%d", k)
		if !slices.Equal(got[id], []string{"INSERT", "MODIFY", "REMOVE"}) {
			t.Errorf("%s reached the function as %v, want INSERT MODIFY REMOVE", id, got[id])
		}
	}
	if len(seqs) != 3*keys || len(slices.Compact(slices.Clone(seqs))) != 3*keys {
		t.Errorf("sequence numbers %v: want %d, each once", seqs, 3*keys)
	}
}

// TestDynamoDBMappingBisectOnFailure: a record the function always fails
// on, in a batch of eight, with BisectBatchOnFunctionError and
// MaximumRetryAttempts 1: the batch is split until the record is alone,
// retried once, then described in the OnFailure queue (AWS's record
// shape, DDBStreamBatchInfo), while the seven others are processed.
func TestDynamoDBMappingBisectOnFailure(t *testing.T) {
	const table, items, bad = "esm-bisect", 8, "k3"
	d := startDynamoDB(t, table)
	q := sqs.New(sqs.Options{BaseEndpoint: aws.String(d.motoURL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	dlqURL, dlqARN := createQueue(t, q, "esm-bisect-dlq")
	for k := range items {
		item := map[string]dtypes.AttributeValue{"n": &dtypes.AttributeValueMemberN{Value: fmt.Sprint(k)}}
		if id := fmt.Sprintf("k%d", k); id == bad {
			item["bad"] = &dtypes.AttributeValueMemberBOOL{Value: true}
		}
		d.put(t, table, fmt.Sprintf("k%d", k), item)
	}
	m, err := d.lambda.CreateEventSourceMapping(ctx(t), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("ddb-fn:" + d.version), EventSourceArn: aws.String(d.streamARN), BatchSize: aws.Int32(items),
		StartingPosition: types.EventSourcePositionTrimHorizon, BisectBatchOnFunctionError: aws.Bool(true), MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(dlqARN)}},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	if !aws.ToBool(m.BisectBatchOnFunctionError) || aws.ToInt32(m.MaximumRetryAttempts) != 1 || m.DestinationConfig == nil ||
		m.DestinationConfig.OnFailure == nil || aws.ToString(m.DestinationConfig.OnFailure.Destination) != dlqARN {
		t.Errorf("the mapping answered %+v", m)
	}
	bodies := drain(t, q, dlqURL, 1, 45*time.Second)
	if len(bodies) != 1 {
		t.Fatalf("%d on-failure records, want 1", len(bodies))
	}
	// The asynchronous invokes' record, without the payloads and with
	// the batch described.
	var rec struct {
		record
		Info struct {
			ShardID, StartSequenceNumber, EndSequenceNumber                 string
			ApproximateArrivalOfFirstRecord, ApproximateArrivalOfLastRecord string
			BatchSize                                                       int
			StreamARN                                                       string `json:"streamArn"`
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &rec); err != nil {
		t.Fatalf("record %s: %v", bodies[0], err)
	}
	// The function's log lines come a moment after its answers.
	var fails [][]string
	var done []string
	waitForLong(t, "the function's lines of the five failures and the seven good records", 15*time.Second, func() bool {
		fails, done = d.lines("ddbfail"), nil
		for _, f := range d.lines("ddb") {
			done = append(done, f[1])
		}
		return len(fails) >= 5 && len(done) >= items-1
	})
	badSeq := ""
	if len(fails[0]) == 3 {
		badSeq = fails[0][2]
	}
	rc, info := rec.RequestContext, rec.Info
	// Invokes with the bad record: 8, 4, 2, 1, then its one retry.
	if rc.Condition != "RetryAttemptsExhausted" || rc.ApproximateInvokeCount != 5 || rc.RequestID == "" ||
		!strings.HasSuffix(rc.FunctionARN, ":function:ddb-fn:"+d.version) {
		t.Errorf("requestContext %+v", rc)
	}
	if rec.ResponseContext.StatusCode != 200 || rec.ResponseContext.FunctionError != "Unhandled" || rec.ResponseContext.ExecutedVersion != d.version {
		t.Errorf("responseContext %+v", rec.ResponseContext)
	}
	if rec.RequestPayload != nil || rec.ResponsePayload != nil {
		t.Errorf("the record has the payloads: %s", bodies[0])
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil || rec.Version != "1.0" {
		t.Errorf("version %q, timestamp %q", rec.Version, rec.Timestamp)
	}
	if info.BatchSize != 1 || info.StartSequenceNumber != badSeq || info.EndSequenceNumber != badSeq || info.StreamARN != d.streamARN || info.ShardID == "" {
		t.Errorf("DDBStreamBatchInfo %+v, want the one record %s", info, badSeq)
	}
	if _, err := time.Parse(time.RFC3339, info.ApproximateArrivalOfFirstRecord); err != nil || !strings.HasSuffix(info.ApproximateArrivalOfLastRecord, "Z") {
		t.Errorf("arrival times %q %q", info.ApproximateArrivalOfFirstRecord, info.ApproximateArrivalOfLastRecord)
	}
	if len(fails) != 5 {
		t.Errorf("the function failed %d times, want 5 (%v)", len(fails), fails)
	}
	slices.Sort(done)
	if !slices.Equal(done, []string{"k0", "k1", "k2", "k4", "k5", "k6", "k7"}) {
		t.Errorf("processed %v, want every record but %s once", done, bad)
	}
}
