package lambdaapi

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paddockhq/paddock/internal/awserr"
)

// unsupported lists, per operation, the request members of the model that
// Paddock cannot honour, with why. A request that sets one is refused with
// InvalidParameterValueException (AWS's answer to a value it does not
// support) rather than stored and ignored. Empty values (null, "", [], {},
// or an object of empty values, such as the VpcConfig with empty lists and
// the DeadLetterConfig with an empty TargetArn that Terraform sends to clear
// them) ask for nothing and pass.
var unsupported = map[string]map[string]string{
	"CreateFunction":              functionExtras,
	"UpdateFunctionConfiguration": functionExtras,
	"UpdateFunctionCode": {
		"S3Bucket":        "code from S3 is not supported: upload the zip (ZipFile)",
		"S3Key":           "code from S3 is not supported: upload the zip (ZipFile)",
		"S3ObjectVersion": "code from S3 is not supported: upload the zip (ZipFile)",
		"ImageUri":        "container images are not supported: upload a zip (ZipFile)",
		"SourceKMSKeyArn": "customer managed KMS keys are not supported",
	},
	"CreateEventSourceMapping": mappingExtras,
	"UpdateEventSourceMapping": mappingExtras,
}

// mappingExtras are the members of event source mappings for sources and
// settings Paddock's pollers do not run (it maps SQS queues, Kinesis
// streams and DynamoDB streams).
var mappingExtras = map[string]string{
	"SelfManagedEventSource":              "self-managed Apache Kafka event sources are not supported",
	"SelfManagedKafkaEventSourceConfig":   "self-managed Apache Kafka event sources are not supported",
	"AmazonManagedKafkaEventSourceConfig": "Amazon MSK event sources are not supported",
	"Topics":                              "Kafka event sources are not supported",
	"Queues":                              "Amazon MQ event sources are not supported",
	"DocumentDBEventSourceConfig":         "Amazon DocumentDB event sources are not supported",
	"SourceAccessConfigurations":          "source access configurations (VPC, authentication) are not supported",
	"KMSKeyArn":                           "customer managed KMS keys for filter criteria are not supported",
	"MetricsConfig":                       "event source mapping metrics are not supported",
	"LoggingConfig":                       "event source mapping logging configurations are not supported",
	"ProvisionedPollerConfig":             "provisioned mode (ProvisionedPollerConfig) is not supported",
	"TumblingWindowInSeconds":             "tumbling windows are not supported",
}

var functionExtras = map[string]string{
	"VpcConfig":            "functions do not attach to VPCs on Paddock (a capacity provider's instances carry its network)",
	"KMSKeyArn":            "customer managed KMS keys are not supported",
	"FileSystemConfigs":    "EFS file systems are not supported",
	"ImageConfig":          "container images are not supported",
	"CodeSigningConfigArn": "code signing configurations are not supported",
	"SnapStart":            "SnapStart is not supported (it is for Java, Python and .NET runtimes)",
	"DurableConfig":        "durable functions are not supported",
	"TenancyConfig":        "tenant isolation mode is not supported",
}

// refuseUnsupported returns the refusal of the first (by name) member of
// body that op cannot honour, or nil.
func refuseUnsupported(op string, body []byte) error {
	members := unsupported[op]
	if len(members) == 0 || len(body) == 0 {
		return nil
	}
	// A CreateFunction body carries a zip of up to 70 MB in one base64
	// string (which has no '"'): look for the names first, at memory speed,
	// and walk the JSON only when one of them is there.
	if !mentionsAny(body, members) {
		return nil
	}
	// Only the top level's names are read; every other value is skipped.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return nil // decode answers InvalidRequestContentException
	}
	var set []string
	for dec.PeekKind() == '"' {
		t, err := dec.ReadToken()
		if err != nil {
			return nil
		}
		name := t.String()
		if _, ok := members[name]; !ok {
			if dec.SkipValue() != nil {
				return nil
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		if !emptyJSON(json.RawMessage(v)) && !(name == "SnapStart" && isSnapStartOff(json.RawMessage(v))) {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	return awserr.InvalidParameter("%s is not supported by Paddock: %s.", set[0], members[set[0]])
}

// mentionsAny reports whether a quoted string in body is one of names: one
// pass from quote to quote (IndexByte runs at memory speed, and base64 has
// no quote).
func mentionsAny(body []byte, names map[string]string) bool {
	for rest := body; ; {
		i := bytes.IndexByte(rest, '"')
		if i < 0 {
			return false
		}
		rest = rest[i+1:]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return false
		}
		if _, ok := names[string(rest[:j])]; ok {
			return true
		}
		rest = rest[j+1:]
	}
}

// emptyJSON reports whether v asks for nothing: null, false, 0, "", [],
// {}, or an object whose every member is empty.
func emptyJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	switch string(v) {
	case "", "null", "false", "0", `""`, "[]", "{}":
		return true
	}
	if v[0] == '[' {
		var list []json.RawMessage
		return json.Unmarshal(v, &list) == nil && len(list) == 0
	}
	if v[0] != '{' {
		return false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return false
	}
	for _, m := range obj {
		if !emptyJSON(m) {
			return false
		}
	}
	return true
}

// isSnapStartOff is SnapStart's default, {"ApplyOn":"None"}, which the
// tools send for every function.
func isSnapStartOff(v json.RawMessage) bool {
	var s struct{ ApplyOn string }
	return json.Unmarshal(v, &s) == nil && (s.ApplyOn == "" || s.ApplyOn == "None")
}
