package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

const tokensPath = "/paddock/v1/join-tokens"

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the join tokens instance agents join with",
		Long: `Instance agents join a cluster of Paddock servers with a join token
(paddock agent --token). The servers' own --join-token is one (its id is
"bootstrap"); these verbs make more, one per rack, team or autoscaling group,
so that one can be revoked without touching the others.

Revoking a token shuts out every agent that joined with it: its connections to
the engine are closed at once, it cannot connect again (not even with another
token: its host id stays bound to the revoked one), and after the servers'
heartbeat timeout its execution environments are replaced on other hosts.

An agent proves it is the same agent with a key of its own, which it generates
on its first start and keeps in its data dir (agent.nk): the first agent to
join as a host id binds the id to its key.`,
		Example: `  # A token for the agents of rack 7; the token is printed once
  paddock token create --description "rack 7"

  # What exists, and what was revoked
  paddock token list

  # Shut rack 7 out
  paddock token revoke jt-k3v8q2m1xa`,
	}
	opts := addClientFlags(cmd)

	var description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a join token (printed once: keep it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client(cmd.Context())
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"description": description})
			data, err := c.do(cmd.Context(), "POST", tokensPath, body)
			if err != nil {
				return err
			}
			var t lambdaapi.JoinTokenInfo
			if err := json.Unmarshal(data, &t); err != nil {
				return fmt.Errorf("the answer of POST %s: %w", tokensPath, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", t.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "Join token %s created. It is shown only now; agents join with:\n  paddock agent --join nats://SERVER:4222 --token %s --instance-type m7i.xlarge\n", t.ID, t.Token)
			return nil
		},
	}
	create.Flags().StringVar(&description, "description", "", "what the token is for (up to 256 characters)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the join tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client(cmd.Context())
			if err != nil {
				return err
			}
			var out lambdaapi.JoinTokenList
			if err := c.getJSON(cmd.Context(), tokensPath, &out); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSTATE\tCREATED\tDESCRIPTION")
			for _, t := range out.JoinTokens {
				state := "valid"
				if t.Revoked != "" {
					state = "revoked " + t.Revoked
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, state, firstNonEmpty(t.Created, "-"), t.Description)
			}
			return w.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a join token and shut out the agents that joined with it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), "DELETE", tokensPath+"/"+url.PathEscape(args[0]), nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Join token %s revoked: its agents are disconnected and cannot join again.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
