// Command composecheck loads docker-compose.yml the way Docker Compose v2 does (with
// compose-go, the Compose Specification's reference loader that `docker compose` itself uses)
// and prints the resolved project as JSON, like `docker compose config`: interpolation,
// required variables (${VAR:?...}), profiles and the schema are all checked, without a Docker
// engine and without Debian's end-of-life docker-compose v1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("f", "docker-compose.yml", "the compose file")
	profiles := flag.String("profiles", "", "comma-separated profiles to enable")
	flag.Parse()

	var enabled []string
	if *profiles != "" {
		enabled = strings.Split(*profiles, ",")
	}
	opts, err := cli.NewProjectOptions(
		[]string{*file},
		cli.WithOsEnv,
		cli.WithName("crm"),
		cli.WithProfiles(enabled),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
