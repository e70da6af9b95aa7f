package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"filippo.io/torchwood"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// verifiedLog is a log whose checkpoint, tiles and entries all verified: proofs are then also
// checked against what it holds.
type verifiedLog struct {
	src    *source
	tree   tlog.Tree
	hashes tlog.HashReader
	client *torchwood.Client
}

func verifyLog(ctx context.Context, src *source, keys *keyring) (*verifiedLog, error) {
	raw, err := src.reader.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		return nil, failf("%s: cannot read the checkpoint: %v", src.name, err)
	}
	checkpoint, n, err := keys.openCheckpoint(src.name+": checkpoint", raw, true)
	if err != nil {
		return nil, err
	}
	fmt.Printf("ok: checkpoint of %s, size %d, signed by %s (signed-note, Ed25519)", checkpoint.Origin, checkpoint.N, keys.log.Name())
	if len(n.UnverifiedSigs) > 0 {
		fmt.Printf("; %d other signature(s) not checked (no -witness key for them)", len(n.UnverifiedSigs))
	}
	fmt.Println()
	tree := checkpoint.Tree
	log := &verifiedLog{src: src, tree: tree}
	if tree.N == 0 {
		if !bytes.Equal(tree.Hash[:], rfc6962.DefaultHasher.EmptyRoot()) {
			return nil, failf("%s: an empty checkpoint whose root is not the empty tree's", src.name)
		}
		return log, nil
	}

	// Every tile is checked against the signed root by x/mod's TileHashReader as it is read.
	log.hashes = torchwood.TileHashReaderWithContext(ctx, tree, src.reader)
	root, err := tlog.TreeHash(tree.N, log.hashes)
	if err != nil {
		return nil, failf("%s: hash tiles do not verify against the signed root: %v", src.name, err)
	}
	if root != tree.Hash {
		return nil, failf("%s: hash tiles give root %s, the checkpoint signs %s", src.name, root, tree.Hash)
	}
	tiles, err := readEveryTile(tree.N, log.hashes)
	if err != nil {
		return nil, failf("%s: hash tiles do not verify against the signed root: %v", src.name, err)
	}
	fmt.Printf("ok: %d hash tiles verify against the signed root %s (x/mod/sumdb/tlog)\n", tiles, root)

	// Entry bundles: torchwood's client checks each entry's record hash against the level-0
	// tiles; the entries are also hashed on their own into an RFC 6962 compact range.
	client, err := torchwood.NewClient(src.reader)
	if err != nil {
		return nil, err
	}
	log.client = client
	rangeFactory := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	leaves := rangeFactory.NewEmptyRange(0)
	next := int64(0)
	for next < tree.N {
		before := next
		for index, entry := range client.Entries(ctx, tree, next) {
			if index != next {
				return nil, failf("%s: entries skipped from %d to %d", src.name, next, index)
			}
			if err := checkEntryIndex(entry, index); err != nil {
				return nil, failf("%s: entry %d: %v", src.name, index, err)
			}
			if err := leaves.Append(rfc6962.DefaultHasher.HashLeaf(entry), nil); err != nil {
				return nil, err
			}
			next++
		}
		if err := client.Err(); err != nil {
			return nil, failf("%s: entry bundles do not match the hash tiles (near entry %d): %v", src.name, next, err)
		}
		if next == before {
			return nil, failf("%s: the tile client stopped at entry %d of %d", src.name, next, tree.N)
		}
	}
	leafRoot, err := leaves.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(leafRoot, tree.Hash[:]) {
		return nil, failf("%s: the RFC 6962 root of the %d entries is %x, the checkpoint signs %s", src.name, tree.N, leafRoot, tree.Hash)
	}
	fmt.Printf("ok: %d entries re-hashed (RFC 6962 leaf hashes) match the level-0 tiles and give the signed root (transparency-dev/merkle)\n", tree.N)
	return log, nil
}

// readEveryTile asks for every hash of every tile of the tree, so that each tile is read and
// checked against the signed root (TreeHash alone reads only the tiles on the right edge).
func readEveryTile(size int64, hashes tlog.HashReader) (int, error) {
	tiles := 0
	for level := 0; size>>(uint(level)*torchwood.TileHeight) > 0; level++ {
		count := size >> (uint(level) * torchwood.TileHeight)
		for start := int64(0); start < count; start += torchwood.TileWidth {
			end := min(start+torchwood.TileWidth, count)
			indexes := make([]int64, 0, end-start)
			for i := start; i < end; i++ {
				indexes = append(indexes, tlog.StoredHashIndex(level*torchwood.TileHeight, i))
			}
			if _, err := hashes.ReadHashes(indexes); err != nil {
				return tiles, fmt.Errorf("tile %d/%d: %w", level, start/torchwood.TileWidth, err)
			}
			tiles++
		}
	}
	return tiles, nil
}

// checkEntryIndex checks the one Consentry fact an outside verifier can check without our
// schema: each entry is a JSON object that carries its own position in the log.
func checkEntryIndex(entry []byte, index int64) error {
	var fields struct {
		Index *int64 `json:"index"`
	}
	if err := json.Unmarshal(entry, &fields); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if fields.Index == nil || *fields.Index != index {
		return fmt.Errorf("its index field is not %d", index)
	}
	return nil
}

// rootAt is the root of the log's first size entries, from its verified tiles.
func (l *verifiedLog) rootAt(size int64) (tlog.Hash, error) {
	if size == 0 {
		var empty tlog.Hash
		copy(empty[:], rfc6962.DefaultHasher.EmptyRoot())
		return empty, nil
	}
	return tlog.TreeHash(size, l.hashes)
}
