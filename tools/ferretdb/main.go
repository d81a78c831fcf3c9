// Command ferretdb-local runs an embedded FerretDB (MongoDB wire protocol) for local
// development and tests. It embeds github.com/FerretDB/FerretDB/ferretdb rather than
// building FerretDB's own command: at v1.24.x that command panics at start when it is
// the main module without a generated version.txt, while the embedded package does not.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", "", "directory for the SQLite backend (default ./data/ferretdb)")
	postgresURL := flag.String("postgresql-url", "", "use the PostgreSQL backend at this URL instead of SQLite")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-local: bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
	}
	if *postgresURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = *postgresURL
	} else {
		dir := *sqliteDir
		if dir == "" {
			dir = filepath.Join("data", "ferretdb")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-local: %v\n", err)
			os.Exit(1)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-local: cannot create %s: %v\n", abs, err)
			os.Exit(1)
		}
		cfg.Handler = "sqlite"
		// FerretDB wants a file: URI naming a directory, with a trailing slash.
		cfg.SQLiteURL = "file:" + abs + "/"
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-local: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb-local: listening on %s (%s backend)\n", f.MongoDBURI(), cfg.Handler)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-local: %v\n", err)
		os.Exit(1)
	}
}
