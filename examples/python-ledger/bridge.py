"""The ledger's notary bridge: the same semantics as devchain's (specs/devchain.md §13).

Assets leave through `bridge_send` (locked in the vault, or burned if wrapped here) and arrive
through a committee-signed batch (`bridge_submit_attestation`) whose transfers are then paid
one by one (`bridge_execute`) with a Merkle proof. Attestations are the canonical bytes of
specs/notary.md §7, verified with RFC 8032 Ed25519 from the `cryptography` package (the only
dependency, needed only when the ledger is started with `--bridge`).
"""

import hashlib
import json
import struct

from ledger import HEX32, InvalidParams, Rejected

DOMAIN_TAG = b"CAUSEWAY-NOTARY-V1"
KIND_BATCH, KIND_ROTATION, KIND_PAUSE = 1, 2, 3
MAX_ATTESTATION_BYTES = 1024
MAX_TEXT_BYTES = 256
MAX_LEAVES = 10_000
MAX_OVERLAP_MS = 604_800_000
VAULT = "bridge-vault"

# The chain's refusal codes for the bridge (carried as `data.chain_code`).
CODE_NOT_CONFIGURED = 40
CODE_INVALID = 41
CODE_WRONG_COMMITTEE = 42
CODE_WRONG_EPOCH = 43
CODE_BAD_SIGNATURE = 44
CODE_REPLAY = 45
CODE_UNKNOWN_ROUTE = 46
CODE_UNKNOWN_ROOT = 47
CODE_BAD_PROOF = 48
CODE_PAUSED = 49


class Reader:
    """specs/notary.md §7.1: big-endian integers, u16-length-prefixed text, raw bytes32."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n, field):
        if self.at + n > len(self.data):
            raise Rejected(CODE_INVALID, f"attestation ends inside {field}")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def uint(self, size, field):
        return int.from_bytes(self.take(size, field), "big")

    def text(self, field):
        n = self.uint(2, field)
        if not 1 <= n <= MAX_TEXT_BYTES:
            raise Rejected(CODE_INVALID, f"{field} has length {n}; it must be 1..={MAX_TEXT_BYTES}")
        try:
            return self.take(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(CODE_INVALID, f"{field} is not UTF-8") from None

    def nonzero32(self, field):
        value = self.take(32, field)
        if value == bytes(32):
            raise Rejected(CODE_INVALID, f"{field} is zero; zero is never valid (Nomad)")
        return value.hex()

    def positive(self, size, field):
        value = self.uint(size, field)
        if value == 0:
            raise Rejected(CODE_INVALID, f"{field} is 0; it must be at least 1")
        return value


def parse_attestation(data):
    """The attestation's fields, checked by every rule of specs/notary.md §7.2–§7.5."""
    if len(data) > MAX_ATTESTATION_BYTES:
        raise Rejected(CODE_INVALID, f"attestation is {len(data)} bytes (limit {MAX_ATTESTATION_BYTES})")
    r = Reader(data)
    if r.take(len(DOMAIN_TAG), "domain_tag") != DOMAIN_TAG:
        raise Rejected(CODE_INVALID, "not a Causeway notary attestation (domain tag)")
    kind = r.uint(1, "kind")
    out = {"kind": kind, "committee_id": r.nonzero32("committee_id"),
           "key_epoch": r.positive(8, "key_epoch")}
    if kind == KIND_BATCH:
        out["source_chain"] = r.text("source_chain")
        out["dest_chain"] = r.text("dest_chain")
        out["sequence"] = r.positive(8, "sequence")
        out["transfer_count"] = r.positive(4, "transfer_count")
        out["merkle_root"] = r.nonzero32("merkle_root")
        if out["source_chain"] == out["dest_chain"] or out["transfer_count"] > MAX_LEAVES:
            raise Rejected(CODE_INVALID, "batch has equal chains or too many transfers")
    elif kind == KIND_ROTATION:
        out["chain"] = r.text("chain")
        out["new_epoch"] = r.positive(8, "new_epoch")
        out["new_group_key"] = r.nonzero32("new_group_key")
        out["activate_at_ms"] = r.positive(8, "activate_at_ms")
        out["overlap_ms"] = r.uint(8, "overlap_ms")
        if out["new_epoch"] != out["key_epoch"] + 1 or out["overlap_ms"] > MAX_OVERLAP_MS:
            raise Rejected(CODE_INVALID, "rotation must name epoch key_epoch + 1 and overlap ≤ 7 days")
    elif kind == KIND_PAUSE:
        out["chain"] = r.text("chain")
        out["control_sequence"] = r.positive(8, "control_sequence")
        flag = r.uint(1, "paused")
        if flag not in (0, 1):
            raise Rejected(CODE_INVALID, f"paused flag is {flag}; it must be 0 or 1")
        out["paused"] = flag == 1
    else:
        raise Rejected(CODE_INVALID, f"unknown attestation kind {kind}")
    if r.at != len(data):
        raise Rejected(CODE_INVALID, "trailing bytes after the attestation")
    return out


def text_bytes(value):
    raw = value.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def leaf_bytes(t):
    """specs/notary.md §7.6."""
    return (text_bytes(t["source_chain"])
            + struct.pack(">QI", t["source_position"]["height"], t["source_position"]["index"])
            + bytes.fromhex(t["source_tx_hash"])
            + text_bytes(t["asset"])
            + int(t["amount"]).to_bytes(16, "big")
            + text_bytes(t["sender"]) + text_bytes(t["recipient"]) + text_bytes(t["dest_asset"]))


def leaf_hash(t):
    return hashlib.sha256(b"\x00" + leaf_bytes(t)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(leaf, proof):
    """specs/notary.md §7.6's verification loop; None when the proof is malformed."""
    idx, width, siblings = proof["leaf_index"], proof["leaf_count"], proof["siblings"]
    if not 0 <= idx < width:
        return None
    node, k = leaf, 0
    while width > 1:
        if idx % 2 == 1 or idx + 1 < width:
            if k >= len(siblings):
                return None
            sibling = bytes.fromhex(siblings[k])
            node = node_hash(sibling, node) if idx % 2 == 1 else node_hash(node, sibling)
            k += 1
        idx, width = idx // 2, (width + 1) // 2
    return node if k == len(siblings) else None


def verify_signature(group_key_hex, message, signature_hex):
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise SystemExit("the bridge needs the `cryptography` package: "
                         "pip install -r examples/python-ledger/requirements.txt") from None
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(group_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def check_config(config, chain_id):
    """The --bridge file (specs/devchain.md §13.1); refuses zero or empty values (Nomad)."""
    if not isinstance(config, dict):
        raise SystemExit("--bridge: not a JSON object")
    for field in ("committee_id", "group_key"):
        value = config.get(field)
        if not isinstance(value, str) or not HEX32.match(value) or int(value, 16) == 0:
            raise SystemExit(f"--bridge: {field} must be 64 non-zero hex digits")
    if not isinstance(config.get("key_epoch"), int) or config["key_epoch"] < 1:
        raise SystemExit("--bridge: key_epoch must be at least 1")
    routes = config.get("routes")
    if not isinstance(routes, list) or not routes:
        raise SystemExit("--bridge: routes must list at least one {asset, dest_chain, dest_asset}")
    for entry in routes + config.setdefault("wrapped", []):
        remote = entry.get("dest_chain", entry.get("origin_chain"))
        if remote == chain_id:
            raise SystemExit(f"--bridge: {entry} names this chain as the other side")
    return config


class Bridge:
    """Bridge state lives in the ledger's SQLite database, changed inside its block."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS bridge_batches (
        root TEXT PRIMARY KEY, source_chain TEXT NOT NULL, sequence INTEGER NOT NULL,
        transfer_count INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS bridge_executed (leaf TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS bridge_sequences (source_chain TEXT PRIMARY KEY, last INTEGER NOT NULL);
    """

    def __init__(self, ledger, config):
        self.ledger = ledger
        self.config = check_config(config, ledger.chain_id)
        ledger.db.executescript(self.SCHEMA)
        with ledger._write():
            if ledger._meta("bridge_epoch") is None:
                ledger._set_meta("bridge_epoch", self.config["key_epoch"])
                ledger._set_meta("bridge_key", self.config["group_key"].lower())
                ledger._set_meta("bridge_paused", 0)
                ledger._set_meta("bridge_control", 0)

    # --- actions ----------------------------------------------------------------

    def apply(self, sender, action, time_ms):
        name = action["action"]
        if name == "bridge_submit_attestation":
            return self._submit(action, time_ms)
        if self._paused():
            raise Rejected(CODE_PAUSED, "the bridge is paused by the committee")
        if name == "bridge_send":
            return self._send(sender, action)
        return self._execute(action)

    def _paused(self):
        return self.ledger._meta("bridge_paused") == "1"

    def _route(self, asset, dest_chain):
        for r in self.config["routes"]:
            if r["asset"] == asset and r["dest_chain"] == dest_chain:
                return r
        return None

    def _wrapped(self, asset):
        for w in self.config["wrapped"]:
            if w["asset"] == asset:
                return w
        return None

    def _send(self, sender, action):
        value = int(action["amount"])
        route = self._route(action["asset"], action["dest_chain"])
        if value == 0 or route is None:
            raise Rejected(CODE_UNKNOWN_ROUTE,
                           f"no bridge route for {action['asset']} to {action['dest_chain']} (or zero amount)")
        self.ledger._debit(sender, action["asset"], value)
        if self._wrapped(action["asset"]) is None:
            self.ledger._credit(VAULT, action["asset"], value)
        return [{"type": "bridge_sent", "sender": sender, "dest_chain": action["dest_chain"],
                 "recipient": action["recipient"], "asset": action["asset"],
                 "dest_asset": route["dest_asset"], "amount": action["amount"]}]

    def _submit(self, action, time_ms):
        message = bytes.fromhex(action["attestation"])
        a = parse_attestation(message)
        if a["committee_id"] != self.config["committee_id"].lower():
            raise Rejected(CODE_WRONG_COMMITTEE, "attestation is from another committee")
        epoch = int(self.ledger._meta("bridge_epoch"))
        if a["key_epoch"] != epoch:
            raise Rejected(CODE_WRONG_EPOCH, f"attestation is signed for key epoch {a['key_epoch']}; "
                                             f"the bridge accepts epoch {epoch}")
        if not verify_signature(self.ledger._meta("bridge_key"), message, action["signature"]):
            raise Rejected(CODE_BAD_SIGNATURE, "the committee signature does not verify")
        if a["kind"] == KIND_BATCH:
            return self._accept_batch(a)
        if a["chain"] != self.ledger.chain_id:
            raise Rejected(CODE_INVALID, f"control addresses chain {a['chain']}")
        if a["kind"] == KIND_ROTATION:
            if a["activate_at_ms"] > time_ms:
                raise Rejected(CODE_INVALID, "rotation is not active yet; resubmit later")
            self.ledger._set_meta("bridge_epoch", a["new_epoch"])
            self.ledger._set_meta("bridge_key", a["new_group_key"])
            return [{"type": "bridge_key_rotated", "key_epoch": a["new_epoch"],
                     "group_key": a["new_group_key"]}]
        if a["control_sequence"] <= int(self.ledger._meta("bridge_control")):
            raise Rejected(CODE_REPLAY, "pause control replayed")
        if a["paused"] == self._paused():
            raise Rejected(CODE_INVALID, "pause flag unchanged")
        self.ledger._set_meta("bridge_control", a["control_sequence"])
        self.ledger._set_meta("bridge_paused", int(a["paused"]))
        return [{"type": "bridge_key_rotated", "key_epoch": epoch,
                 "group_key": self.ledger._meta("bridge_key")}]

    def _accept_batch(self, a):
        if self._paused():
            raise Rejected(CODE_PAUSED, "the bridge is paused by the committee")
        if a["dest_chain"] != self.ledger.chain_id:
            raise Rejected(CODE_INVALID, f"batch is for chain {a['dest_chain']}")
        source = a["source_chain"]
        known = any(r["dest_chain"] == source for r in self.config["routes"]) or any(
            w["origin_chain"] == source for w in self.config["wrapped"])
        if not known:
            raise Rejected(CODE_UNKNOWN_ROUTE, f"no route from {source}")
        row = self.ledger.db.execute(
            "SELECT last FROM bridge_sequences WHERE source_chain = ?", (source,)).fetchone()
        last = row[0] if row else 0
        seen = self.ledger.db.execute(
            "SELECT 1 FROM bridge_batches WHERE root = ?", (a["merkle_root"],)).fetchone()
        if a["sequence"] != last + 1 or seen:
            raise Rejected(CODE_REPLAY, f"batch {a['sequence']} from {source} replayed or out of "
                                        f"order (last accepted {last})")
        self.ledger.db.execute("INSERT OR REPLACE INTO bridge_sequences VALUES (?, ?)",
                               (source, a["sequence"]))
        self.ledger.db.execute("INSERT INTO bridge_batches VALUES (?, ?, ?, ?)",
                               (a["merkle_root"], source, a["sequence"], a["transfer_count"]))
        return [{"type": "bridge_batch_accepted", "source_chain": source,
                 "sequence": a["sequence"], "root": a["merkle_root"], "key_epoch": a["key_epoch"]}]

    def _execute(self, action):
        t, proof = action["transfer"], action["proof"]
        leaf = leaf_hash(t)
        root = root_from_proof(leaf, proof)
        batch = root and self.ledger.db.execute(
            "SELECT source_chain, transfer_count FROM bridge_batches WHERE root = ?",
            (root.hex(),)).fetchone()
        if not batch:
            raise Rejected(CODE_UNKNOWN_ROOT, "the proof leads to no accepted batch")
        if batch[0] != t["source_chain"] or batch[1] != proof["leaf_count"]:
            raise Rejected(CODE_BAD_PROOF, "the transfer does not belong to that batch")
        if self.ledger.db.execute("SELECT 1 FROM bridge_executed WHERE leaf = ?",
                                  (leaf.hex(),)).fetchone():
            raise Rejected(CODE_REPLAY, "transfer already executed (replay)")
        value = int(t["amount"])
        wrapped = self._wrapped(t["dest_asset"])
        if wrapped is not None:
            if (wrapped["origin_chain"], wrapped["origin_asset"]) != (t["source_chain"], t["asset"]):
                raise Rejected(CODE_UNKNOWN_ROUTE, f"{t['dest_asset']} does not wrap {t['asset']}")
            self.ledger._credit(t["recipient"], t["dest_asset"], value)
        else:
            route = self._route(t["dest_asset"], t["source_chain"])
            if route is None or route["dest_asset"] != t["asset"]:
                raise Rejected(CODE_UNKNOWN_ROUTE, f"no route releases {t['dest_asset']}")
            self.ledger._debit(VAULT, t["dest_asset"], value)
            self.ledger._credit(t["recipient"], t["dest_asset"], value)
        self.ledger.db.execute("INSERT INTO bridge_executed VALUES (?)", (leaf.hex(),))
        return [{"type": "bridge_received", "source_chain": t["source_chain"],
                 "source_position": t["source_position"], "source_tx_hash": t["source_tx_hash"],
                 "recipient": t["recipient"], "asset": t["dest_asset"], "amount": t["amount"]}]


def check_bridge_action(action, name):
    """Validates the bridge actions' parameters (the serde forms of causeway_adapters::Action)."""
    from ledger import ADDRESS, ASSET, SLUG, amount, hash32, matching, unsigned
    if name == "bridge_send":
        return {"action": name, "dest_chain": matching(action.get("dest_chain"), SLUG, "dest_chain"),
                "recipient": matching(action.get("recipient"), ADDRESS, "recipient"),
                "asset": matching(action.get("asset"), ASSET, "asset"),
                "amount": str(amount(action.get("amount")))}
    if name == "bridge_submit_attestation":
        att, sig = action.get("attestation"), action.get("signature")
        if not isinstance(att, str) or len(att) > 2 * MAX_ATTESTATION_BYTES or len(att) % 2:
            raise InvalidParams("attestation must be hex of at most 1024 bytes")
        if not isinstance(sig, str) or len(sig) != 128:
            raise InvalidParams("signature must be 128 hex digits")
        try:
            bytes.fromhex(att), bytes.fromhex(sig)
        except ValueError:
            raise InvalidParams("attestation and signature must be hex") from None
        return {"action": name, "attestation": att.lower(), "signature": sig.lower()}
    t, proof = action.get("transfer"), action.get("proof")
    if not isinstance(t, dict) or not isinstance(proof, dict):
        raise InvalidParams("bridge_execute needs a transfer and a proof")
    position = t.get("source_position")
    if not isinstance(position, dict):
        raise InvalidParams("transfer.source_position must be {height, index}")
    siblings = proof.get("siblings")
    if not isinstance(siblings, list) or len(siblings) > 64:
        raise InvalidParams("proof.siblings must be a list of at most 64 hashes")
    transfer = {
        "source_chain": matching(t.get("source_chain"), SLUG, "transfer.source_chain"),
        "source_position": {"height": unsigned(position.get("height"), "source_position.height"),
                            "index": unsigned(position.get("index"), "source_position.index")},
        "source_tx_hash": hash32(t.get("source_tx_hash"), "transfer.source_tx_hash"),
        "asset": matching(t.get("asset"), ASSET, "transfer.asset"),
        "amount": str(amount(t.get("amount"), "transfer.amount")),
        "sender": matching(t.get("sender"), ADDRESS, "transfer.sender"),
        "recipient": matching(t.get("recipient"), ADDRESS, "transfer.recipient"),
        "dest_asset": matching(t.get("dest_asset"), ASSET, "transfer.dest_asset"),
    }
    return {"action": name, "transfer": transfer,
            "proof": {"leaf_index": unsigned(proof.get("leaf_index"), "proof.leaf_index"),
                      "leaf_count": unsigned(proof.get("leaf_count"), "proof.leaf_count"),
                      "siblings": [hash32(s, "proof.siblings") for s in siblings]}}


def load_config(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
