package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

const hostsPath = "/paddock/v1/hosts"

func hostCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Manage the hosts whose agents joined (paddock status lists them)",
		Long: `A host is a machine whose agent joined the servers (paddock agent --join).
The first agent to join as a host id binds the id to its key (agent.nk in its
data dir), and the servers keep the host's records until they are told to
forget it: for a machine that is retired, or rebuilt with a new key, or whose
join token was revoked and that should be let in again with another.

Hosts the ec2 and local providers launch are forgotten when they terminate.`,
		Example: `  # Machine h-rack7-3 was rebuilt: stop its old agent, forget it, join the new one
  paddock host forget h-rack7-3
  paddock agent --join nats://SERVER:4222 --token TOKEN --id h-rack7-3 --instance-type m7i.xlarge`,
	}
	opts := addClientFlags(cmd)
	forget := &cobra.Command{
		Use:   "forget ID",
		Short: "Forget a host whose agent stopped: its records and its id's binding to the agent's key",
		Long: `Forget deletes a host's records on the servers and the binding of its id to
its agent's key, so that an agent may join as the id again, with a new key or
a new token. A host whose agent still beats is refused: stop the agent first
(or revoke its join token).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), "DELETE", hostsPath+"/"+url.PathEscape(args[0]), nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Host %s forgotten: an agent may join as it again.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(forget)
	return cmd
}
