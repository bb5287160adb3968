package control

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/store"
)

// Resource-based policies of functions (AddPermission, RemovePermission,
// GetPolicy).
//
// Paddock stores these policies and returns them in AWS's policy JSON so
// that the tools that manage them (Terraform's aws_lambda_permission, SAM,
// the Serverless Framework) converge. It enforces them in one place only:
// a function URL whose AuthType is NONE serves nobody until a statement
// lets everyone invoke it (AllowsPublicURL). Every other invoke that
// passes SigV4 with Paddock's key runs, whatever the policy of the
// function says, and no AWS service calls Paddock on a principal's behalf.
//
// One policy per function and qualifier (none: the unqualified function),
// each in a record policy.NAME.QUALIFIER-IN-HEX ("-" for none). As on AWS,
// a policy has no revision of its own: GetPolicy answers the RevisionId of
// the resource it is attached to ($LATEST, the version or the alias), which
// AddPermission and RemovePermission move (LocalStack's tests, validated
// against AWS, found the same), and their RevisionId is checked against it.
// Texts: GetPolicy's "The resource you requested does not exist." is
// AWS's recorded answer; RemovePermission's follow AWS's recorded answers
// as LocalStack's snapshot tests keep them.

// MaxPolicyBytes is Lambda's limit on a function's resource-based policy.
const MaxPolicyBytes = 20 * 1024

// Patterns of AddPermissionRequest members in the model, anchored.
var (
	statementIDRE      = regexp.MustCompile(`^([a-zA-Z0-9-_]+)$`)
	nsStatementIDRE    = regexp.MustCompile(`^([a-zA-Z0-9-_.]+)$`)
	actionRE           = regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`)
	principalRE        = regexp.MustCompile(`^[^\s]+$`)
	sourceArnRE        = regexp.MustCompile(`^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$`)
	sourceOwnerRE      = regexp.MustCompile(`^\d{12}$`)
	principalOrgIDRE   = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	eventSourceTokenRE = regexp.MustCompile(`^[a-zA-Z0-9._\-]+$`)
	accountIDRE        = regexp.MustCompile(`^\d{12}$`)
)

// PermissionInput is an AddPermission request in domain terms.
type PermissionInput struct {
	StatementID           string
	Action                string
	Principal             string
	SourceArn             string
	SourceAccount         string
	EventSourceToken      string
	PrincipalOrgID        string
	FunctionURLAuthType   string
	InvokedViaFunctionURL *bool
	RevisionID            string
}

// ValidatePermission checks an AddPermission request against the model's
// constraints (ValidationException, as AWS answers them).
func ValidatePermission(in PermissionInput) error {
	switch {
	case in.StatementID == "":
		return validationError("", "statementId", "Member must not be null")
	case len(in.StatementID) > 100:
		return validationError(in.StatementID, "statementId", "Member must have length less than or equal to 100")
	case !statementIDRE.MatchString(in.StatementID):
		return validationError(in.StatementID, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
	case in.Action == "":
		return validationError("", "action", "Member must not be null")
	case !actionRE.MatchString(in.Action):
		return validationError(in.Action, "action", "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
	case in.Principal == "":
		return validationError("", "principal", "Member must not be null")
	case !principalRE.MatchString(in.Principal):
		return validationError(in.Principal, "principal", "Member must satisfy regular expression pattern: [^\\s]+")
	case in.SourceArn != "" && !sourceArnRE.MatchString(in.SourceArn):
		return validationError(in.SourceArn, "sourceArn", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)")
	case len(in.SourceAccount) > 12:
		return validationError(in.SourceAccount, "sourceAccount", "Member must have length less than or equal to 12")
	case in.SourceAccount != "" && !sourceOwnerRE.MatchString(in.SourceAccount):
		return validationError(in.SourceAccount, "sourceAccount", "Member must satisfy regular expression pattern: \\d{12}")
	case len(in.EventSourceToken) > 256:
		return validationError(in.EventSourceToken, "eventSourceToken", "Member must have length less than or equal to 256")
	case in.EventSourceToken != "" && !eventSourceTokenRE.MatchString(in.EventSourceToken):
		return validationError(in.EventSourceToken, "eventSourceToken", "Member must satisfy regular expression pattern: [a-zA-Z0-9._\\-]+")
	case in.PrincipalOrgID != "" && len(in.PrincipalOrgID) < 12:
		return validationError(in.PrincipalOrgID, "principalOrgID", "Member must have length greater than or equal to 12")
	case len(in.PrincipalOrgID) > 34:
		return validationError(in.PrincipalOrgID, "principalOrgID", "Member must have length less than or equal to 34")
	case in.PrincipalOrgID != "" && !principalOrgIDRE.MatchString(in.PrincipalOrgID):
		return validationError(in.PrincipalOrgID, "principalOrgID", "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}")
	case in.FunctionURLAuthType != "" && in.FunctionURLAuthType != "NONE" && in.FunctionURLAuthType != "AWS_IAM":
		return validationError(in.FunctionURLAuthType, "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
	}
	return nil
}

// ValidateStatementID checks RemovePermission's StatementId
// (NamespacedStatementId in the model).
func ValidateStatementID(sid string) error {
	switch {
	case sid == "" || len(sid) > 100:
		return validationError(sid, "statementId", "Member must have length less than or equal to 100")
	case !nsStatementIDRE.MatchString(sid):
		return validationError(sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	}
	return nil
}

// policyStatement is one statement in AWS's order of fields.
type policyStatement struct {
	Sid       string          `json:"Sid"`
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    string          `json:"Action"`
	Resource  string          `json:"Resource"`
	Condition json.RawMessage `json:"Condition,omitempty"`
}

type policyDocument struct {
	Version   string            `json:"Version"`
	ID        string            `json:"Id"`
	Statement []policyStatement `json:"Statement"`
}

// policyRecord is the durable policy of one function and qualifier.
type policyRecord struct {
	Function   string            `json:"function"`
	Qualifier  string            `json:"qualifier,omitempty"`
	Statements []policyStatement `json:"statements"`
}

func (p *policyRecord) document() string {
	data, _ := json.Marshal(policyDocument{Version: "2012-10-17", ID: "default", Statement: p.Statements})
	return string(data)
}

func policyKey(function, qualifier string) string {
	q := "-"
	if qualifier != "" {
		q = hex.EncodeToString([]byte(qualifier))
	}
	return "policy." + function + "." + q
}

func policyMapKey(function, qualifier string) string { return function + "\x00" + qualifier }

// principalJSON is how AWS writes a principal: a service as
// {"Service":...}, an account id as its root ARN, an ARN as {"AWS":...},
// "*" as is.
func principalJSON(p string) json.RawMessage {
	var v any
	switch {
	case p == "*":
		v = "*"
	case accountIDRE.MatchString(p):
		v = map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	case strings.HasPrefix(p, "arn:"):
		v = map[string]string{"AWS": p}
	default:
		v = map[string]string{"Service": p}
	}
	data, _ := json.Marshal(v)
	return data
}

// conditionJSON builds the Condition block in the order AWS writes it.
func conditionJSON(in PermissionInput) json.RawMessage {
	type kv struct{ k, v string }
	var eq []kv
	if in.SourceAccount != "" {
		eq = append(eq, kv{"AWS:SourceAccount", in.SourceAccount})
	}
	if in.PrincipalOrgID != "" {
		eq = append(eq, kv{"aws:PrincipalOrgID", in.PrincipalOrgID})
	}
	if in.EventSourceToken != "" {
		eq = append(eq, kv{"lambda:EventSourceToken", in.EventSourceToken})
	}
	if in.FunctionURLAuthType != "" {
		eq = append(eq, kv{"lambda:FunctionUrlAuthType", in.FunctionURLAuthType})
	}
	if in.InvokedViaFunctionURL != nil && *in.InvokedViaFunctionURL {
		eq = append(eq, kv{"lambda:InvokedViaFunctionUrl", "true"})
	}
	if len(eq) == 0 && in.SourceArn == "" {
		return nil
	}
	var b bytes.Buffer
	str := func(s string) { d, _ := json.Marshal(s); b.Write(d) }
	b.WriteByte('{')
	if len(eq) > 0 {
		b.WriteString(`"StringEquals":{`)
		for i, p := range eq {
			if i > 0 {
				b.WriteByte(',')
			}
			str(p.k)
			b.WriteByte(':')
			str(p.v)
		}
		b.WriteByte('}')
	}
	if in.SourceArn != "" {
		if len(eq) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"ArnLike":{"AWS:SourceArn":`)
		str(in.SourceArn)
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// policyTarget checks that function (with qualifier) exists and may carry
// a policy. Under s.mu.
func (s *Service) policyTarget(function, qualifier string) error {
	f, err := s.function(function)
	if err != nil {
		return err
	}
	if qualifier == "" {
		return nil
	}
	_, err = s.configAt(f, qualifier)
	return err
}

// AddPermission adds a statement to the resource policy of a function (or
// of one of its versions or aliases) and returns the statement's JSON.
func (s *Service) AddPermission(ctx context.Context, function, qualifier string, in PermissionInput) (string, error) {
	if err := ValidatePermission(in); err != nil {
		return "", err
	}
	if qualifier == Latest {
		return "", awserr.InvalidParameter("We currently do not support adding policies for $LATEST.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.policyTarget(function, qualifier); err != nil {
		return "", err
	}
	cur := s.policies[policyMapKey(function, qualifier)]
	if in.RevisionID != "" && in.RevisionID != s.revisionOf(function, qualifier) {
		return "", awserr.RevisionMismatch()
	}
	next := &policyRecord{Function: function, Qualifier: qualifier}
	if cur != nil {
		for _, st := range cur.Statements {
			if st.Sid == in.StatementID {
				return "", awserr.Conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementID)
			}
		}
		next.Statements = append(next.Statements, cur.Statements...)
	}
	st := policyStatement{
		Sid: in.StatementID, Effect: "Allow", Principal: principalJSON(in.Principal),
		Action: in.Action, Resource: s.FunctionARN(function, qualifier), Condition: conditionJSON(in),
	}
	next.Statements = append(next.Statements, st)
	if n := len(next.document()); n > MaxPolicyBytes {
		return "", awserr.LimitExceeded("PolicyLengthExceededException", "The final policy size (%d) is bigger than the limit (%d).", n, MaxPolicyBytes)
	}
	if err := s.put(ctx, policyKey(function, qualifier), next); err != nil {
		return "", err
	}
	s.setPolicy(next)
	if err := s.bumpRevision(ctx, function, qualifier); err != nil {
		return "", err
	}
	data, _ := json.Marshal(st)
	return string(data), nil
}

// RemovePermission removes a statement from a resource policy.
func (s *Service) RemovePermission(ctx context.Context, function, qualifier, sid, revisionID string) error {
	if err := ValidateStatementID(sid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.policyTarget(function, qualifier); err != nil {
		return err
	}
	cur := s.policies[policyMapKey(function, qualifier)]
	if cur == nil {
		return awserr.NotFound("No policy is associated with the given resource.")
	}
	next := &policyRecord{Function: function, Qualifier: qualifier}
	for _, st := range cur.Statements {
		if st.Sid != sid {
			next.Statements = append(next.Statements, st)
		}
	}
	// AWS looks for the statement before it checks the revision.
	if len(next.Statements) == len(cur.Statements) {
		return awserr.NotFound("Statement %s is not found in resource policy.", sid)
	}
	if revisionID != "" && revisionID != s.revisionOf(function, qualifier) {
		return awserr.RevisionMismatch()
	}
	if len(next.Statements) == 0 {
		if err := s.del(ctx, policyKey(function, qualifier)); err != nil {
			return err
		}
		delete(s.policies, policyMapKey(function, qualifier))
	} else {
		if err := s.put(ctx, policyKey(function, qualifier), next); err != nil {
			return err
		}
		s.setPolicy(next)
	}
	return s.bumpRevision(ctx, function, qualifier)
}

// revisionOf is the RevisionId of the resource a policy is attached to:
// $LATEST (no qualifier), a version or an alias. Under s.mu, after
// policyTarget.
func (s *Service) revisionOf(function, qualifier string) string {
	f := s.fns[function]
	if a := f.aliases[qualifier]; a != nil {
		return a.RevisionID
	}
	c, err := s.configAt(f, qualifier)
	if err != nil {
		return ""
	}
	return c.RevisionID
}

// bumpRevision gives the resource a policy is attached to a new RevisionId,
// as a policy change does on AWS. Under s.mu, after policyTarget.
func (s *Service) bumpRevision(ctx context.Context, function, qualifier string) error {
	f := s.fns[function]
	rev := ids.New()
	switch a := f.aliases[qualifier]; {
	case a != nil:
		next := *a
		next.RevisionID = rev
		if err := s.put(ctx, aliasKey(function, qualifier), &next); err != nil {
			return err
		}
		f.aliases[qualifier] = &next
	case qualifier == "" || qualifier == Latest:
		next := f.fn
		next.Latest.RevisionID = rev
		if err := s.put(ctx, fnKey(function), &next); err != nil {
			return err
		}
		f.fn = next
		s.kickSettle() // a creation or update in progress is settled under the new revision
	default:
		c, err := s.configAt(f, qualifier)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(c.Version)
		next := *f.versions[n]
		next.Config.RevisionID = rev
		if err := s.put(ctx, verKey(function, n), &next); err != nil {
			return err
		}
		f.versions[n] = &next
	}
	s.publishRoutes()
	return nil
}

// GetPolicy returns the policy document of a function (or version or
// alias) and its RevisionId.
func (s *Service) GetPolicy(function, qualifier string) (policy, revisionID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.policyTarget(function, qualifier); err != nil {
		return "", "", err
	}
	cur := s.policies[policyMapKey(function, qualifier)]
	if cur == nil {
		return "", "", awserr.NotFound("The resource you requested does not exist.")
	}
	return cur.document(), s.revisionOf(function, qualifier), nil
}

func (s *Service) setPolicy(p *policyRecord) {
	if s.policies == nil {
		s.policies = map[string]*policyRecord{}
	}
	s.policies[policyMapKey(p.Function, p.Qualifier)] = p
}

// loadPolicies reads the policy.* records. Called from load, after the
// functions are in memory.
func (s *Service) loadPolicies(entries []store.Entry) error {
	for _, e := range entries {
		if !strings.HasPrefix(e.Key, "policy.") {
			continue
		}
		var p policyRecord
		if err := json.Unmarshal(e.Value, &p); err != nil {
			return err
		}
		// A policy whose version or alias is gone (a stop between the two
		// deletes) is not loaded.
		if s.policyTarget(p.Function, p.Qualifier) == nil {
			s.setPolicy(&p)
		}
	}
	return nil
}

// dropPolicy forgets the policy of a deleted version or alias. Under s.mu.
func (s *Service) dropPolicy(ctx context.Context, function, qualifier string) error {
	if _, ok := s.policies[policyMapKey(function, qualifier)]; !ok {
		return nil
	}
	if err := s.del(ctx, policyKey(function, qualifier)); err != nil {
		return err
	}
	delete(s.policies, policyMapKey(function, qualifier))
	return nil
}

// dropPolicies forgets every policy of a deleted function. Under s.mu.
func (s *Service) dropPolicies(ctx context.Context, function string) error {
	for k, p := range s.policies {
		if p.Function != function {
			continue
		}
		if err := s.del(ctx, policyKey(p.Function, p.Qualifier)); err != nil {
			return err
		}
		delete(s.policies, k)
	}
	return nil
}

// dropFunctionExtras forgets the tags, event invoke configs and policies
// of a function being deleted. Under s.mu.
func (s *Service) dropFunctionExtras(ctx context.Context, function string) error {
	if err := s.dropTags(ctx, "function", function); err != nil {
		return err
	}
	if err := s.dropEventInvokeConfigs(ctx, function); err != nil { // eventinvoke.go
		return err
	}
	return s.dropPolicies(ctx, function)
}

// AllowsPublicURL says whether the policy of function (with qualifier: the
// alias a function URL belongs to, "" for none) lets anyone call its
// function URL without signing: a statement that allows
// lambda:InvokeFunctionUrl (or lambda:*, or *) to the principal "*", with
// no lambda:FunctionUrlAuthType condition or one that says NONE. That is
// what `aws lambda add-permission --action lambda:InvokeFunctionUrl
// --principal '*' --function-url-auth-type NONE` writes, and what AWS
// required when LocalStack recorded its answers (2025-11-24: a URL with
// that statement alone served requests). AWS's documentation announces
// that new URLs also need lambda:InvokeFunction from October 2025; the
// recordings show it was not enforced, and Paddock does not require it.
func (s *Service) AllowsPublicURL(function, qualifier string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.policies[policyMapKey(function, qualifier)]
	if p == nil {
		return false
	}
	for _, st := range p.Statements {
		if st.Effect == "Allow" && publicPrincipal(st.Principal) && urlAction(st.Action) && noneOrUnconditioned(st.Condition) {
			return true
		}
	}
	return false
}

func publicPrincipal(raw json.RawMessage) bool {
	var p any
	if json.Unmarshal(raw, &p) != nil {
		return false
	}
	switch v := p.(type) {
	case string:
		return v == "*"
	case map[string]any:
		return v["AWS"] == "*"
	}
	return false
}

func urlAction(a string) bool {
	return a == "lambda:InvokeFunctionUrl" || a == "lambda:*" || a == "*"
}

// noneOrUnconditioned says whether a statement's condition allows an
// unsigned URL request: only lambda:FunctionUrlAuthType NONE, or nothing.
func noneOrUnconditioned(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return true
	}
	var c map[string]map[string]string
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	for op, kv := range c {
		for k, v := range kv {
			if op != "StringEquals" || k != "lambda:FunctionUrlAuthType" || v != "NONE" {
				return false // a source account, an org or an ARN: not anyone
			}
		}
	}
	return true
}
