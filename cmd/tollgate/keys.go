package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/internal/gateway"
)

func init() { registered = append(registered, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke the keys callers of \"tollgate serve\" use",
		Long: `Keys manages the gateway's keys. Each key belongs to a tenant, whose limits, allowed
models and priorities are in the gateway configuration file. A key works both ways the AWS
SDKs authenticate: as an access key pair (SigV4 signatures) and as a bearer token
(AWS_BEARER_TOKEN_BEDROCK). Its secrets are derived from a master secret kept beside the
configuration (the .secret file, mode 0600), so they are never stored and can be printed
only once, when the key is created.

A running "tollgate serve" with the same configuration picks up new and revoked keys
within about a second, without a restart.

Without --config the configuration is $XDG_CONFIG_HOME/tollgate/gateway.yaml (or
~/.config/tollgate/gateway.yaml), created with a fresh master secret on first use.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&configFile, "config", "", "gateway configuration `FILE` (default $XDG_CONFIG_HOME/tollgate/gateway.yaml)")
	configPath := func() (string, error) {
		if configFile != "" {
			return configFile, nil
		}
		return gateway.DefaultConfigPath()
	}

	var tenant string
	create := &cobra.Command{
		Use:   "create --tenant NAME [--config FILE]",
		Short: "Issue a key for a tenant and print it as environment variables",
		Long: `Create issues a key for the tenant and prints it as three "export NAME=value" lines:
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for SigV4) and AWS_BEARER_TOKEN_BEDROCK. A tenant
not yet in the configuration is added with no limits of its own.`,
		Example: `  eval "$(tollgate keys create --tenant team-a)"
  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://localhost:8080`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if tenant == "" {
				return usageError{errors.New("--tenant NAME is required (the tenant the key's calls count against)")}
			}
			path, err := configPath()
			if err != nil {
				return usageError{err}
			}
			creds, err := gateway.CreateKey(path, tenant, time.Now())
			if err != nil {
				return usageError{err}
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "export AWS_ACCESS_KEY_ID=%s\n", creds.AccessKeyID)
			fmt.Fprintf(out, "export AWS_SECRET_ACCESS_KEY=%s\n", creds.SecretAccessKey)
			fmt.Fprintf(out, "export AWS_BEARER_TOKEN_BEDROCK=%s\n", creds.BearerToken)
			fmt.Fprintf(c.ErrOrStderr(), "# key %s of tenant %s added to %s\n", creds.AccessKeyID, tenant, path)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "the `NAME` of the tenant the key belongs to")

	revoke := &cobra.Command{
		Use:   "revoke KEY_ID [--config FILE]",
		Short: "Revoke a key: requests made with it are refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			path, err := existingConfig(configPath)
			if err != nil {
				return err
			}
			if err := gateway.RevokeKey(path, args[0]); err != nil {
				return usageError{err}
			}
			fmt.Fprintf(c.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}

	list := &cobra.Command{
		Use:   "list [--config FILE]",
		Short: "List the keys and their tenants (no secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path, err := existingConfig(configPath)
			if err != nil {
				return err
			}
			keys, err := gateway.ListKeys(path)
			if err != nil {
				return usageError{err}
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tTENANT\tCREATED\tSTATUS")
			for _, k := range keys {
				status := "active"
				if k.Revoked {
					status = "revoked"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Created, status)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, revoke, list)
	return cmd
}

// existingConfig resolves the configuration path and requires the file to exist.
func existingConfig(configPath func() (string, error)) (string, error) {
	path, err := configPath()
	if err != nil {
		return "", usageError{err}
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", usageError{fmt.Errorf("no gateway configuration at %s: create a key first (tollgate keys create --tenant NAME) or give --config", path)}
	}
	return path, nil
}
