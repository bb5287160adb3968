package control

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

func testZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create("bootstrap")
	f.Write([]byte("#!/bin/sh\n")) //nolint:errcheck
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// conflict asserts err is ResourceConflictException with text in its message.
func conflict(t *testing.T, what string, err error, text string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) || e.Code != "ResourceConflictException" || !strings.Contains(e.Message, text) {
		t.Fatalf("%s: got %v, want ResourceConflictException %q", what, err, text)
	}
}

// TestSettleSequence walks a default-mode function through AWS's states:
// CreateFunction Pending/Creating, then Active/Successful once Settle has
// read the code back; an update InProgress (with the reason AWS sends),
// then Successful; and in between, updates and publishes refused with
// AWS's ResourceConflictException texts. A record left Pending by a
// restart is finished by the next Service, and code that does not match
// its digest ends Failed.
func TestSettleSequence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	s, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := CreateFunctionInput{Config: Config{FunctionName: "f", Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Handler: "bootstrap"}, Zip: testZip(t)}
	c, err := s.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != StatePending || c.StateReasonCode != "Creating" || c.StateReason != "The function is being created." || c.LastUpdateStatus != "" {
		t.Fatalf("created: %s/%s/%q last update %q; want Pending/Creating and no LastUpdateStatus", c.State, c.StateReasonCode, c.StateReason, c.LastUpdateStatus)
	}
	timeout := 5
	_, err = s.UpdateFunctionConfiguration(ctx, "f", ConfigPatch{Timeout: &timeout})
	conflict(t, "update while Pending", err, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	_, err = s.PublishVersion(ctx, "f", PublishVersionInput{})
	conflict(t, "publish while Pending", err, "The function is currently in the following state: Pending")

	if !s.settleOnce(ctx) {
		t.Fatal("settleOnce did nothing")
	}
	d, _ := s.GetFunction("f", "")
	if d.Config.State != StateActive || d.Config.LastUpdateStatus != "Successful" || d.Config.StateReason != "" {
		t.Fatalf("settled: %s/%q last update %s; want Active, Successful", d.Config.State, d.Config.StateReason, d.Config.LastUpdateStatus)
	}

	u, err := s.UpdateFunctionConfiguration(ctx, "f", ConfigPatch{Timeout: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	if u.State != StateActive || u.LastUpdateStatus != "InProgress" || u.LastUpdateStatusReason != "The function is being created." || u.LastUpdateStatusReasonCode != "Creating" {
		t.Fatalf("update answered %s %s %q %s; want Active InProgress and AWS's reason", u.State, u.LastUpdateStatus, u.LastUpdateStatusReason, u.LastUpdateStatusReasonCode)
	}
	arn := s.FunctionARN("f", "")
	_, err = s.UpdateFunctionCode(ctx, "f", UpdateCodeInput{Zip: testZip(t)})
	conflict(t, "update during an update", err, "The operation cannot be performed at this time. An update is in progress for resource: "+arn)
	_, err = s.PublishVersion(ctx, "f", PublishVersionInput{})
	conflict(t, "publish during an update", err, "An update is in progress for resource: "+arn)
	s.settleOnce(ctx)
	if d, _ := s.GetFunction("f", ""); d.Config.LastUpdateStatus != "Successful" || d.Config.LastUpdateStatusReason != "" {
		t.Fatalf("update settled to %s %q", d.Config.LastUpdateStatus, d.Config.LastUpdateStatusReason)
	}
	if v, err := s.PublishVersion(ctx, "f", PublishVersionInput{}); err != nil || v.State != StateActive {
		t.Fatalf("publish of a settled default-mode function: %v %v, want an Active version", v, err)
	}

	// Left Pending by a stop: the next Service finishes it.
	in.Config.FunctionName = "g"
	if _, err := s.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = store.OpenEmbedded(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, st, Options{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.GetFunction("g", ""); d.Config.State != StatePending {
		t.Fatalf("reloaded g is %s, want still Pending", d.Config.State)
	}
	s.settleOnce(ctx)
	if d, _ := s.GetFunction("g", ""); d.Config.State != StateActive {
		t.Fatalf("g after restart and settle is %s, want Active", d.Config.State)
	}

	// Code whose digest does not match what is stored ends Failed.
	in.Config.FunctionName = "h"
	if _, err := s.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.fns["h"].fn.Latest.CodeSHA256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	s.mu.Unlock()
	s.settleOnce(ctx)
	if d, _ := s.GetFunction("h", ""); d.Config.State != StateFailed || d.Config.StateReasonCode != "InternalError" || d.Config.LastUpdateStatus != "Failed" {
		t.Fatalf("h with unreadable code: %s/%s last update %s, want Failed/InternalError, Failed", d.Config.State, d.Config.StateReasonCode, d.Config.LastUpdateStatus)
	}
}

// TestDeletedAliasTakesItsPolicy: an alias deleted and created again
// starts without the old one's resource policy, as on AWS, where the
// policy belongs to the deleted resource.
func TestDeletedAliasTakesItsPolicy(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := CreateFunctionInput{Config: Config{FunctionName: "f", Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Handler: "bootstrap"}, Zip: testZip(t), Publish: true}
	if _, err := s.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	s.settleOnce(ctx)
	one := "1"
	alias := AliasInput{Name: "live", Version: &one}
	if _, err := s.CreateAlias(ctx, "f", alias); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddPermission(ctx, "f", "live", PermissionInput{StatementID: "s", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, "f", alias); err != nil {
		t.Fatal(err)
	}
	if p, _, err := s.GetPolicy("f", "live"); err == nil {
		t.Fatalf("the new alias has the old one's policy: %s", p)
	}
}
