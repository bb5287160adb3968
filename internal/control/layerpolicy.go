package control

import (
	"context"
	"encoding/json"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/ids"
)

// Resource policies of layer versions (AddLayerVersionPermission,
// RemoveLayerVersionPermission, GetLayerVersionPolicy). As with functions'
// policies (policy.go), Paddock keeps them in AWS's policy JSON and does
// not enforce them: it has one account, whose layers are its own.
//
// Each layer version carries its policy, with a RevisionId of its own that
// every added or removed statement moves (LocalStack's
// test_layer_policy_lifecycle, recorded against AWS 2025-11-25). A
// statement is written as in AWS's examples (botocore's examples-1.json
// and the CLI's add-layer-version-permission and get-layer-version-policy
// examples): Principal "*" as is and an account id as
// {"AWS":"arn:aws:iam::ID:root"}, Resource the layer version's ARN.
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// (TestLambdaLayer::test_layer_policy_exceptions, 2025-11-25): "Layer
// version ARN does not exist." (ResourceNotFoundException, for Add, Remove
// and Get), "No policy is associated with the given resource." (Get
// without a policy), "The statement id (S) provided already exists. ..."
// (ResourceConflictException), "Statement S is not found in resource
// policy." and the PreconditionFailedException below.
//
// Not confirmed: the Condition an OrganizationId adds (Paddock writes
// {"StringEquals":{"aws:PrincipalOrgID":ORG}}, as a function's policy has
// it); the order of RemoveLayerVersionPermission's checks (LocalStack's
// provider checks the RevisionId before it looks for the statement, which
// Paddock follows; AWS's recordings do not tell); RemoveLayerVersionPermission
// of a version with no policy (Paddock answers as GetLayerVersionPolicy
// does); whether a policy whose last statement is removed still exists
// (Paddock removes it, as a function's); and the size limit (Paddock
// applies a function's, MaxPolicyBytes).

// LayerPermissionInput is an AddLayerVersionPermission request.
type LayerPermissionInput struct {
	StatementID    string
	Action         string
	Principal      string
	OrganizationID string
	RevisionID     string
}

func layerRevisionMismatch() error {
	return awserr.PreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
}

// policyLayerVersion finds the layer version a policy call names. Under s.mu.
func (s *Service) policyLayerVersion(layerName string, n int64) (layerID, *LayerVersion, error) {
	id := s.parseLayerName(layerName)
	v := s.layerVersion(id, n)
	if v == nil {
		arn := "arn:aws:lambda:" + id.region + ":" + id.account + ":layer:" + id.name + ":" + versionString(int(n))
		return id, nil, awserr.NotFound("Layer version %s does not exist.", arn)
	}
	return id, v, nil
}

// layerStatement is a statement of a layer version's policy.
func (s *Service) layerStatement(v *LayerVersion, in LayerPermissionInput) policyStatement {
	st := policyStatement{Sid: in.StatementID, Effect: "Allow", Principal: principalJSON(in.Principal),
		Action: in.Action, Resource: s.LayerARN(v.Name, v.Version)}
	if in.OrganizationID != "" {
		st.Condition = conditionJSON(PermissionInput{PrincipalOrgID: in.OrganizationID})
	}
	return st
}

func layerPolicyDocument(statements []policyStatement) string {
	data, _ := json.Marshal(policyDocument{Version: "2012-10-17", ID: "default", Statement: statements})
	return string(data)
}

// AddLayerVersionPermission adds a statement to a layer version's policy and
// returns the statement's JSON and the policy's new RevisionId.
func (s *Service) AddLayerVersionPermission(ctx context.Context, layerName string, n int64, in LayerPermissionInput) (statement, revisionID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, v, err := s.policyLayerVersion(layerName, n)
	if err != nil {
		return "", "", err
	}
	for _, st := range v.Statements {
		if st.Sid == in.StatementID {
			return "", "", awserr.Conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementID)
		}
	}
	if in.RevisionID != "" && in.RevisionID != v.PolicyRevision {
		return "", "", layerRevisionMismatch()
	}
	st := s.layerStatement(v, in)
	next := *v
	next.Statements = append(append([]policyStatement(nil), v.Statements...), st)
	if n := len(layerPolicyDocument(next.Statements)); n > MaxPolicyBytes {
		return "", "", awserr.LimitExceeded("PolicyLengthExceededException", "The final policy size (%d) is bigger than the limit (%d).", n, MaxPolicyBytes)
	}
	next.PolicyRevision = ids.New()
	if err := s.putLayerVersion(ctx, id, &next); err != nil {
		return "", "", err
	}
	data, _ := json.Marshal(st)
	return string(data), next.PolicyRevision, nil
}

// RemoveLayerVersionPermission removes a statement from a layer version's policy.
func (s *Service) RemoveLayerVersionPermission(ctx context.Context, layerName string, n int64, sid, revisionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, v, err := s.policyLayerVersion(layerName, n)
	if err != nil {
		return err
	}
	if len(v.Statements) == 0 {
		return awserr.NotFound("No policy is associated with the given resource.")
	}
	if revisionID != "" && revisionID != v.PolicyRevision {
		return layerRevisionMismatch()
	}
	next := *v
	next.Statements = nil
	for _, st := range v.Statements {
		if st.Sid != sid {
			next.Statements = append(next.Statements, st)
		}
	}
	if len(next.Statements) == len(v.Statements) {
		return awserr.NotFound("Statement %s is not found in resource policy.", sid)
	}
	next.PolicyRevision = ids.New()
	if len(next.Statements) == 0 {
		next.PolicyRevision = ""
	}
	return s.putLayerVersion(ctx, id, &next)
}

// GetLayerVersionPolicy returns a layer version's policy and its RevisionId.
func (s *Service) GetLayerVersionPolicy(layerName string, n int64) (policy, revisionID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.policyLayerVersion(layerName, n)
	if err != nil {
		return "", "", err
	}
	if len(v.Statements) == 0 {
		return "", "", awserr.NotFound("No policy is associated with the given resource.")
	}
	return layerPolicyDocument(v.Statements), v.PolicyRevision, nil
}

// putLayerVersion stores a changed layer version. Under s.mu.
func (s *Service) putLayerVersion(ctx context.Context, id layerID, v *LayerVersion) error {
	if err := s.put(ctx, layerVersionKey(id.name, v.Version), v); err != nil {
		return err
	}
	s.layers[id.name].versions[v.Version] = v
	return nil
}
