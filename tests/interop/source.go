package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
)

// source is where the log is read from: an export directory or a live ledger's tile API, both
// addressed with torchwood's c2sp.org/tlog-tiles paths (torchwood.TilePath), never ours.
type source struct {
	name   string
	reader torchwood.TileReader
}

func openSource(location string) (*source, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		fetcher, err := torchwood.NewTileFetcher(location)
		if err != nil {
			return nil, err
		}
		return &source{name: location, reader: fetcher}, nil
	}
	info, err := os.Stat(location)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", location)
	}
	return &source{name: location, reader: dirReader{root: location}}, nil
}

// dirReader reads tiles and endpoints from an export directory.
type dirReader struct{ root string }

func (d dirReader) ReadTiles(_ context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, tile := range tiles {
		content, err := d.ReadEndpoint(context.Background(), torchwood.TilePath(tile))
		if err != nil {
			return nil, err
		}
		data[i] = content
	}
	return data, nil
}

func (d dirReader) SaveTiles([]tlog.Tile, [][]byte) {}

func (d dirReader) ReadEndpoint(_ context.Context, path string) ([]byte, error) {
	content, err := os.ReadFile(filepath.Join(d.root, filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failf("%s: %s is missing", d.root, path)
	}
	return content, err
}
