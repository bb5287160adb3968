package control

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
)

// Lambda answers CreateFunction with State Pending (StateReasonCode
// Creating), and UpdateFunctionCode and UpdateFunctionConfiguration with
// LastUpdateStatus InProgress, and moves the function to Active and
// Successful once its code is ready to run. Clients wait on that sequence
// (the CLI's function-active-v2 and function-updated-v2 waiters, Terraform,
// CDK), and Lambda refuses another update or a publish in between.
//
// Paddock's step between the two states is real work, done by Settle off
// the request path: the code object is looked up in the store and the
// digest and size recorded with it checked against the function's (its
// metadata, not the whole zip: an update may be only a new timeout), so a
// function whose code is not stored whole ends Failed instead of Active.
// The states live in the store, so a restart in between finishes the step
// (Settle starts with a full pass).

// Reasons Lambda gives while a function is being created or updated (as
// AWS sends them; the update's reason is the creation's text, verbatim).
const (
	reasonCreating     = "The function is being created."
	reasonCodeCreating = "Creating"
	statusInProgress   = "InProgress"
	statusSuccessful   = "Successful"
	statusFailed       = "Failed"
)

// Settle finishes the creations and updates in progress until ctx ends.
func (s *Service) Settle(ctx context.Context) {
	for {
		for s.settleOnce(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-s.settle:
		case <-time.After(time.Minute): // a store hiccup is retried
		}
	}
}

func (s *Service) kickSettle() {
	select {
	case s.settle <- struct{}{}:
	default:
	}
}

// unsettled is a $LATEST (or a default-mode version) waiting for Settle.
type unsettled struct {
	name     string
	version  int // 0: $LATEST
	revision string
	sha      string // base64, as in Config.CodeSHA256
	size     int64
}

// settleOnce settles what is waiting and reports whether it changed anything.
func (s *Service) settleOnce(ctx context.Context) bool {
	s.mu.Lock()
	var todo []unsettled
	for name, f := range s.fns {
		if c := f.fn.Latest; c.State == StatePending || c.LastUpdateStatus == statusInProgress {
			todo = append(todo, unsettled{name, 0, c.RevisionID, c.CodeSHA256, c.CodeSize})
		}
		for n, v := range f.versions {
			if v.Config.LMI == nil && v.Config.State == StatePending {
				todo = append(todo, unsettled{name, n, v.Config.RevisionID, v.Config.CodeSHA256, v.Config.CodeSize})
			}
		}
	}
	s.mu.Unlock()
	changed := s.settleMappings(ctx) // eventsource.go
	for _, u := range todo {
		failure := s.checkCode(ctx, u.sha, u.size)
		if ctx.Err() != nil {
			return false
		}
		if s.finish(ctx, u, failure) {
			changed = true
		}
	}
	return changed
}

// checkCode checks the stored code object against the function's digest
// and size; "" means ready.
func (s *Service) checkCode(ctx context.Context, b64sha string, size int64) string {
	want, err := base64.StdEncoding.DecodeString(b64sha)
	if err != nil {
		return "The function's code digest is malformed."
	}
	sum, n, err := s.store.CodeDigest(ctx, hex.EncodeToString(want))
	if err != nil {
		s.log.Error("code not found in storage", "sha256", b64sha, "err", err)
		return "Lambda could not find the function's code in storage."
	}
	if !bytes.Equal(sum, want) || int64(n) != size {
		return "The function's stored code does not match its CodeSha256 and CodeSize."
	}
	return ""
}

// finish moves u to its settled state unless it changed meanwhile.
func (s *Service) finish(ctx context.Context, u unsettled, failure string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[u.name]
	if f == nil {
		return false
	}
	if u.version != 0 {
		v := f.versions[u.version]
		if v == nil || v.Config.RevisionID != u.revision || v.Config.State != StatePending {
			return false
		}
		next := *v
		next.Config.State, next.Config.StateReason, next.Config.StateReasonCode = StateActive, "", ""
		if failure != "" {
			next.Config.State, next.Config.StateReason, next.Config.StateReasonCode = StateFailed, failure, "InternalError"
		}
		if err := s.put(ctx, verKey(u.name, u.version), &next); err != nil {
			return false
		}
		f.versions[u.version] = &next
	} else {
		c := f.fn.Latest
		if c.RevisionID != u.revision {
			return false
		}
		settleLatest(&c, failure)
		next := f.fn
		next.Latest = c
		if err := s.put(ctx, fnKey(u.name), &next); err != nil {
			return false
		}
		f.fn = next
	}
	s.publishRoutes()
	s.notify()
	return true
}

// settleLatest moves a $LATEST out of Pending / InProgress.
func settleLatest(c *Config, failure string) {
	if c.State == StatePending || c.State == StateFailed { // an update of a Failed function can mend it
		c.State, c.StateReason, c.StateReasonCode = StateActive, "", ""
		if c.LMI != nil {
			c.State = StateActiveNonInvocable // LMI runs published versions only
		}
		if failure != "" {
			c.State, c.StateReason, c.StateReasonCode = StateFailed, failure, "InternalError"
		}
	}
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = statusSuccessful, "", ""
	if failure != "" {
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = statusFailed, failure, "InternalError"
	}
}

// busy is the ResourceConflictException Lambda gives for an update or a
// publish while the function is still being created or updated. Under s.mu.
func (s *Service) busy(c Config) error {
	switch {
	case c.State == StatePending:
		return conflictState(StatePending)
	case c.LastUpdateStatus == statusInProgress:
		return conflictUpdate(s.FunctionARN(c.FunctionName, ""))
	}
	return nil
}

// conflictState is AWS's answer to an operation the function's state forbids.
func conflictState(state string) error {
	return awserr.Conflict("The operation cannot be performed at this time. The function is currently in the following state: %s", state)
}

// conflictUpdate is AWS's answer to an update or publish during an update.
func conflictUpdate(arn string) error {
	return awserr.Conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", arn)
}
