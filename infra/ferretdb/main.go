// Command ferretdb-embedded runs FerretDB 1.x as a MongoDB-protocol server for local runs
// and tests, on PostgreSQL (the default) or SQLite. `go install .../cmd/ferretdb` panics at start in
// v1.24 (FerretDB issue 2982: a version file generated at release time is missing), so
// we embed the library package instead.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "postgresql", "backend: postgresql or sqlite")
	dataDir := flag.String("data", "./.data/ferretdb", "directory for the SQLite files (sqlite handler)")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	pprofAddr := flag.String("pprof", "", "serve Go's profiler on this address (benchmarks); off when empty")
	flag.Parse()

	// FerretDB allocates much per command (every document it reads is decoded from JSONB): at
	// Go's default GOGC=100 a sixth of its CPU went to garbage collection in bench/run.sh e2e,
	// 6-7% at 400, for a heap of some tens of MiB more. GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}

	// The PostgreSQL URL carries a password, so it comes from the environment, not argv.
	pgURL := os.Getenv("FERRETDB_POSTGRESQL_URL")
	switch *handler {
	case "postgresql":
		if pgURL == "" {
			log.Fatal("FERRETDB_POSTGRESQL_URL is required for the postgresql handler")
		}
	case "sqlite":
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			log.Fatalf("data directory: %v", err)
		}
	default:
		log.Fatalf("unknown handler %q", *handler)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatalf("log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       *handler,
		PostgreSQLURL: pgURL,
		SQLiteURL:     "file:" + *dataDir + "/",
		Logger:        logger,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Warn("ferretdb listening", "addr", *listen, "handler", *handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
