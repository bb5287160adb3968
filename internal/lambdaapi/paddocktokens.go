package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"github.com/paddockhq/paddock/internal/joinauth"
)

// JoinTokens keeps the tokens instance agents join with (package joinauth).
type JoinTokens interface {
	List(ctx context.Context) ([]joinauth.Token, error)
	Create(ctx context.Context, description string) (joinauth.Token, string, error)
	Revoke(ctx context.Context, id string) (joinauth.Token, error)
}

// JoinTokenInfo is a join token as the API shows it: never its secret,
// except once, in Token, when it is created.
type JoinTokenInfo struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	Created     string `json:"created,omitempty"` // RFC 3339
	Revoked     string `json:"revoked,omitempty"` // RFC 3339; empty while the token is valid
	Token       string `json:"token,omitempty"`
}

// JoinTokenList is the body of GET /paddock/v1/join-tokens.
type JoinTokenList struct {
	JoinTokens []JoinTokenInfo `json:"joinTokens"`
}

func tokenInfo(t joinauth.Token) JoinTokenInfo {
	i := JoinTokenInfo{ID: t.ID, Description: t.Description}
	if !t.Created.IsZero() {
		i.Created = t.Created.Format(time.RFC3339)
	}
	if t.Revoked != nil {
		i.Revoked = t.Revoked.Format(time.RFC3339)
	}
	return i
}

// maxTokenDescription bounds what a token's description may hold.
const maxTokenDescription = 256

// HandleJoinTokens serves the join tokens: GET /paddock/v1/join-tokens
// lists them, POST creates one ({"description": "..."}; the answer holds
// the token, the only time it is shown), and DELETE
// /paddock/v1/join-tokens/{id} revokes one: agents can no longer join
// with it, and those that did are disconnected. Each server writes them
// to the store itself: they need no leader.
func (a *API) HandleJoinTokens(tokens JoinTokens) {
	a.mux.Handle("GET /paddock/v1/join-tokens", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		list, err := tokens.List(r.Context())
		if err != nil {
			return awserr.Service("Listing the join tokens failed: %v", err)
		}
		out := JoinTokenList{JoinTokens: []JoinTokenInfo{}}
		for _, t := range list {
			out.JoinTokens = append(out.JoinTokens, tokenInfo(t))
		}
		return writeJSON(w, http.StatusOK, out)
	}))
	a.mux.Handle("POST /paddock/v1/join-tokens", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, body []byte) error {
		var in struct {
			Description string `json:"description"`
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return awserr.Validation("The request body is not a JSON object: %v", err)
			}
		}
		if len(in.Description) > maxTokenDescription {
			return awserr.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxTokenDescription)
		}
		t, secret, err := tokens.Create(r.Context(), in.Description)
		if err != nil {
			return awserr.Service("Creating the join token failed: %v", err)
		}
		info := tokenInfo(t)
		info.Token = secret
		return writeJSON(w, http.StatusCreated, info)
	}))
	a.mux.Handle("DELETE /paddock/v1/join-tokens/{id}", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		t, err := tokens.Revoke(r.Context(), r.PathValue("id"))
		if errors.Is(err, joinauth.ErrNoToken) {
			return awserr.NotFound("Join token not found: %s", r.PathValue("id"))
		}
		if err != nil {
			return awserr.Service("Revoking the join token failed: %v", err)
		}
		return writeJSON(w, http.StatusOK, tokenInfo(t))
	}))
}
