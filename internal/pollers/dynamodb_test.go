package pollers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// A DynamoDB stream's records reach the function as AWS's example
// DynamoDB event ("Using Lambda with DynamoDB"), and aws-lambda-go reads
// them back.
func TestDynamoRecord(t *testing.T) {
	const stream = "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
	for _, tc := range []struct {
		name string
		in   dtypes.Record
		want string
	}{
		{"MODIFY", dtypes.Record{
			AwsRegion: aws.String("us-east-1"), EventID: aws.String("2"), EventName: dtypes.OperationTypeModify,
			EventSource: aws.String("aws:dynamodb"), EventVersion: aws.String("1.1"),
			Dynamodb: &dtypes.StreamRecord{
				ApproximateCreationDateTime: aws.Time(time.Unix(1480642020, 0)),
				Keys:                        map[string]dtypes.AttributeValue{"Id": &dtypes.AttributeValueMemberN{Value: "101"}},
				NewImage: map[string]dtypes.AttributeValue{
					"Message": &dtypes.AttributeValueMemberS{Value: "This item has changed"}, "Id": &dtypes.AttributeValueMemberN{Value: "101"},
				},
				OldImage: map[string]dtypes.AttributeValue{
					"Message": &dtypes.AttributeValueMemberS{Value: "New item!"}, "Id": &dtypes.AttributeValueMemberN{Value: "101"},
				},
				SequenceNumber: aws.String("222"), SizeBytes: aws.Int64(59), StreamViewType: dtypes.StreamViewTypeNewAndOldImages,
			},
		}, `{"awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1480642020,"Keys":{"Id":{"N":"101"}},` +
			`"NewImage":{"Id":{"N":"101"},"Message":{"S":"This item has changed"}},"OldImage":{"Id":{"N":"101"},"Message":{"S":"New item!"}},` +
			`"SequenceNumber":"222","SizeBytes":59,"StreamViewType":"NEW_AND_OLD_IMAGES"},"eventID":"2","eventName":"MODIFY",` +
			`"eventSource":"aws:dynamodb","eventVersion":"1.1","eventSourceARN":"` + stream + `"}`},
		{"REMOVE by TTL, every type, defaults", dtypes.Record{
			EventID: aws.String("3"), EventName: dtypes.OperationTypeRemove,
			UserIdentity: &dtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
			Dynamodb: &dtypes.StreamRecord{
				ApproximateCreationDateTime: aws.Time(time.Unix(1700000000, 0)),
				Keys:                        map[string]dtypes.AttributeValue{"k": &dtypes.AttributeValueMemberS{Value: "a"}},
				OldImage: map[string]dtypes.AttributeValue{
					"b": &dtypes.AttributeValueMemberB{Value: []byte("hi")}, "t": &dtypes.AttributeValueMemberBOOL{Value: true},
					"z": &dtypes.AttributeValueMemberNULL{Value: true}, "ss": &dtypes.AttributeValueMemberSS{Value: []string{"x", "y"}},
					"ns": &dtypes.AttributeValueMemberNS{Value: []string{"1"}}, "bs": &dtypes.AttributeValueMemberBS{Value: [][]byte{[]byte("a")}},
					"l": &dtypes.AttributeValueMemberL{Value: []dtypes.AttributeValue{&dtypes.AttributeValueMemberN{Value: "2"}}},
					"m": &dtypes.AttributeValueMemberM{Value: map[string]dtypes.AttributeValue{"n": &dtypes.AttributeValueMemberS{Value: "v"}}},
				},
				SequenceNumber: aws.String("333"), SizeBytes: aws.Int64(10), StreamViewType: dtypes.StreamViewTypeOldImage,
			},
		}, `{"awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1700000000,"Keys":{"k":{"S":"a"}},` +
			`"OldImage":{"b":{"B":"aGk="},"bs":{"BS":["YQ=="]},"l":{"L":[{"N":"2"}]},"m":{"M":{"n":{"S":"v"}}},"ns":{"NS":["1"]},"ss":{"SS":["x","y"]},"t":{"BOOL":true},"z":{"NULL":true}},` +
			`"SequenceNumber":"333","SizeBytes":10,"StreamViewType":"OLD_IMAGE"},"eventID":"3","eventName":"REMOVE",` +
			`"eventSource":"aws:dynamodb","eventVersion":"1.1","eventSourceARN":"` + stream + `","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}}`},
	} {
		got, err := json.Marshal(dynamoRecord(tc.in, "us-east-1", stream))
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, got, []byte(tc.want)) {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, tc.want)
		}
		var back events.DynamoDBEvent
		if err := json.Unmarshal([]byte(`{"Records":[`+string(got)+`]}`), &back); err != nil || len(back.Records) != 1 || back.Records[0].Change.SequenceNumber == "" {
			t.Errorf("%s: aws-lambda-go reads %+v, %v", tc.name, back, err)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	x2, _ := json.Marshal(x)
	y2, _ := json.Marshal(y)
	return string(x2) == string(y2)
}
