package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"reflect"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// inclusionJSON is the output of `consentry ledger proof inclusion --json` (cli/consentry/proofs.py)
// or a ledger's GET /receipt/{index}, which adds the leaf bytes and a cosigned checkpoint.
type inclusionJSON struct {
	Leaf       *string         `json:"leaf"`
	Index      *int64          `json:"index"`
	TreeSize   *int64          `json:"tree_size"`
	LeafHash   string          `json:"leaf_hash"`
	Hashes     []string        `json:"hashes"`
	Checkpoint string          `json:"checkpoint"`
	Entry      json.RawMessage `json:"entry"`
}

// consistencyJSON is the output of `consentry ledger proof consistency --json`.
type consistencyJSON struct {
	From           *int64   `json:"from"`
	To             *int64   `json:"to"`
	Hashes         []string `json:"hashes"`
	Checkpoint     string   `json:"checkpoint"`
	FromCheckpoint *string  `json:"from_checkpoint"`
}

func readJSON(path string, into any) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	decoder := json.NewDecoder(bytes.NewReader(content))
	if err := decoder.Decode(into); err != nil {
		return failf("%s: not a proof JSON: %v", path, err)
	}
	return nil
}

func decodeHashes(path, field string, values []string) ([][]byte, error) {
	out := make([][]byte, len(values))
	for i, value := range values {
		h, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(h) != tlog.HashSize {
			return nil, failf("%s: %s[%d] is not a base64 SHA-256 hash", path, field, i)
		}
		out[i] = h
	}
	return out, nil
}

func toTlog(hashes [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(hashes))
	for i, h := range hashes {
		copy(out[i][:], h)
	}
	return out
}

func verifyInclusionFile(ctx context.Context, path string, keys *keyring, log *verifiedLog) error {
	var p inclusionJSON
	if err := readJSON(path, &p); err != nil {
		return err
	}
	if p.Index == nil || p.TreeSize == nil || p.Checkpoint == "" {
		return failf("%s: index, tree_size and checkpoint are required", path)
	}
	checkpoint, _, err := keys.openCheckpoint(path+": checkpoint", []byte(p.Checkpoint), false)
	if err != nil {
		return err
	}
	if checkpoint.N != *p.TreeSize {
		return failf("%s: tree_size %d but the checkpoint has size %d", path, *p.TreeSize, checkpoint.N)
	}
	leaf, err := decodeHashes(path, "leaf_hash", []string{p.LeafHash})
	if err != nil {
		return err
	}
	hashes, err := decodeHashes(path, "hashes", p.Hashes)
	if err != nil {
		return err
	}
	index, size, root := *p.Index, checkpoint.N, checkpoint.Hash
	if index < 0 || index >= size {
		return failf("%s: index %d is outside the tree of size %d", path, index, size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), leaf[0], hashes, root[:]); err != nil {
		return failf("%s: inclusion proof of entry %d in size %d does not verify (transparency-dev/merkle): %v", path, index, size, err)
	}
	var leafHash tlog.Hash
	copy(leafHash[:], leaf[0])
	if p.Leaf != nil {
		entry, err := base64.StdEncoding.DecodeString(*p.Leaf)
		if err != nil {
			return failf("%s: leaf is not base64", path)
		}
		if !bytes.Equal(rfc6962.DefaultHasher.HashLeaf(entry), leaf[0]) {
			return failf("%s: leaf_hash is not the RFC 6962 hash of the leaf bytes", path)
		}
		if !sameJSON(p.Entry, entry) {
			return failf("%s: the entry shown is not the leaf", path)
		}
	}
	if err := tlog.CheckRecord(toTlog(hashes), size, root, index, leafHash); err != nil {
		return failf("%s: inclusion proof of entry %d in size %d does not verify (x/mod/sumdb/tlog): %v", path, index, size, err)
	}
	if log != nil {
		if err := log.matchEntry(ctx, path, index, size, root, leafHash, p.Entry); err != nil {
			return err
		}
	}
	fmt.Printf("ok: %s: entry %d is in the signed tree of size %d (%d-hash RFC 9162 inclusion proof)\n", path, index, size, len(hashes))
	return nil
}

// matchEntry ties an inclusion proof to the verified log: the entry at index has the proof's
// leaf hash, the JSON entry shown is that entry, and the proof's root is the log's at that size.
func (l *verifiedLog) matchEntry(ctx context.Context, path string, index, size int64, root, leafHash tlog.Hash, shown json.RawMessage) error {
	if size > l.tree.N {
		return failf("%s: proof is for size %d, the verified log has only %d", path, size, l.tree.N)
	}
	logRoot, err := l.rootAt(size)
	if err != nil {
		return failf("%s: %v", path, err)
	}
	if logRoot != root {
		return failf("%s: the proof's checkpoint of size %d has root %s, the log's tiles give %s", path, size, root, logRoot)
	}
	entry, _, err := l.client.Entry(ctx, l.tree, index)
	if err != nil {
		return failf("%s: entry %d: %v", path, index, err)
	}
	if tlog.RecordHash(entry) != leafHash {
		return failf("%s: leaf_hash is not the RFC 6962 hash of entry %d of %s", path, index, l.src.name)
	}
	if len(shown) > 0 && !sameJSON(shown, entry) {
		return failf("%s: the entry shown is not entry %d of %s", path, index, l.src.name)
	}
	return nil
}

// sameJSON reports whether two JSON texts hold the same value (numbers compared as written).
func sameJSON(a, b []byte) bool {
	var x, y any
	for _, pair := range []struct {
		text []byte
		into *any
	}{{a, &x}, {b, &y}} {
		decoder := json.NewDecoder(bytes.NewReader(pair.text))
		decoder.UseNumber()
		if decoder.Decode(pair.into) != nil {
			return false
		}
	}
	return reflect.DeepEqual(x, y)
}

func verifyConsistencyFile(_ context.Context, path string, keys *keyring, log *verifiedLog) error {
	var p consistencyJSON
	if err := readJSON(path, &p); err != nil {
		return err
	}
	if p.From == nil || p.To == nil || p.Checkpoint == "" {
		return failf("%s: from, to and checkpoint are required", path)
	}
	newer, _, err := keys.openCheckpoint(path+": checkpoint", []byte(p.Checkpoint), false)
	if err != nil {
		return err
	}
	if newer.N != *p.To {
		return failf("%s: to is %d but the checkpoint has size %d", path, *p.To, newer.N)
	}
	from := *p.From
	if from < 0 || from > newer.N {
		return failf("%s: from %d is outside 0..%d", path, from, newer.N)
	}
	var oldRoot *tlog.Hash
	if p.FromCheckpoint != nil && *p.FromCheckpoint != "" {
		older, _, err := keys.openCheckpoint(path+": from_checkpoint", []byte(*p.FromCheckpoint), false)
		if err != nil {
			return err
		}
		if older.N != from {
			return failf("%s: from is %d but from_checkpoint has size %d", path, from, older.N)
		}
		oldRoot = &older.Hash
	}
	if log != nil {
		if newer.N > log.tree.N {
			return failf("%s: proof is to size %d, the verified log has only %d", path, newer.N, log.tree.N)
		}
		for _, size := range []int64{from, newer.N} {
			root, err := log.rootAt(size)
			if err != nil {
				return failf("%s: %v", path, err)
			}
			want := newer.Hash
			if size == from {
				if oldRoot == nil {
					oldRoot = &root
				}
				want = *oldRoot
			}
			if root != want {
				return failf("%s: the signed root of size %d is %s, the log's tiles give %s", path, size, want, root)
			}
		}
	}
	if oldRoot == nil {
		if from != 0 {
			return failf("%s: no signed root of size %d to check the proof against (give the log too)", path, from)
		}
		var empty tlog.Hash
		copy(empty[:], rfc6962.DefaultHasher.EmptyRoot())
		oldRoot = &empty
	}
	hashes, err := decodeHashes(path, "hashes", p.Hashes)
	if err != nil {
		return err
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(from), uint64(newer.N), hashes, oldRoot[:], newer.Hash[:]); err != nil {
		return failf("%s: consistency proof %d -> %d does not verify (transparency-dev/merkle): %v", path, from, newer.N, err)
	}
	if from > 0 {
		if err := tlog.CheckTree(toTlog(hashes), newer.N, newer.Hash, from, *oldRoot); err != nil {
			return failf("%s: consistency proof %d -> %d does not verify (x/mod/sumdb/tlog): %v", path, from, newer.N, err)
		}
	}
	fmt.Printf("ok: %s: the tree of size %d is a prefix of the signed tree of size %d (%d-hash RFC 9162 consistency proof)\n", path, from, newer.N, len(hashes))
	return nil
}
