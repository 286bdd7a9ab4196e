"""A small ledger kept in SQLite: accounts, assets, transfers, SHA-256 HTLCs, blocks.

This is the "chain" the example adapter connects to Causeway. It is deliberately simple:
one process, blocks produced on an interval, instant finality (a committed block is final).
Every state change happens inside one SQLite transaction per block, so a process killed at
any moment (kill -9) restarts with a consistent chain, its pending transactions included.
"""

import contextlib
import hashlib
import hmac
import json
import os
import re
import sqlite3
import threading
import time

# Bounds (specs/adapter-protocol.md §6): every queue and page has one.
MAX_TXS_PER_BLOCK = 500
MAX_MEMPOOL = 10_000
MAX_EVENTS_PER_PAGE = 1_000
MAX_AMOUNT = 2**128 - 1

# The chain's own refusal codes (carried as `data.chain_code`, specs/adapter.md §3.4).
CODE_BAD_AUTH = 1
CODE_WRONG_CHAIN = 2
CODE_MEMPOOL_FULL = 3

SLUG = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ASSET = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
ADDRESS = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEX32 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    account TEXT NOT NULL, asset TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (account, asset));
CREATE TABLE IF NOT EXISTS mempool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tx_id TEXT NOT NULL, raw TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    tx_id TEXT PRIMARY KEY, height INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS locks (
    lock_id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    asset TEXT NOT NULL, amount TEXT NOT NULL, hashlock TEXT NOT NULL,
    expiry_ms INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    height INTEGER NOT NULL, idx INTEGER NOT NULL, tx_hash TEXT NOT NULL,
    time_ms INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (height, idx));
"""


class InvalidParams(Exception):
    """The request does not parse: JSON-RPC -32602."""


class Unsupported(Exception):
    """An action this chain does not offer: protocol code -32001."""


class Rejected(Exception):
    """The chain refuses: protocol code -32002 with the chain's own code."""

    def __init__(self, chain_code, message):
        super().__init__(message)
        self.chain_code = chain_code


def now_ms():
    return int(time.time() * 1000)


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def hash32(value, field):
    if not isinstance(value, str) or not HEX32.match(value):
        raise InvalidParams(f"{field} must be 64 hex digits, got {value!r}")
    return value.lower().removeprefix("0x")


def matching(value, pattern, field):
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidParams(f"{field} {value!r} does not match {pattern.pattern}")
    return value


def amount(value, field="amount"):
    if not isinstance(value, str) or not value.isdigit() or int(value) > MAX_AMOUNT:
        raise InvalidParams(f"{field} must be a decimal string of a u128, got {value!r}")
    return int(value)


def unsigned(value, field):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise InvalidParams(f"{field} must be an unsigned 64-bit integer, got {value!r}")
    return value


def check_action(action):
    """Validates an action (the serde form of causeway_adapters::Action); returns it normalised."""
    if not isinstance(action, dict):
        raise InvalidParams("action must be an object with an `action` tag")
    name = action.get("action")
    if name == "transfer":
        return {"action": name, "to": matching(action.get("to"), ADDRESS, "to"),
                "asset": matching(action.get("asset"), ASSET, "asset"),
                "amount": str(amount(action.get("amount")))}
    if name == "htlc_lock":
        return {"action": name,
                "recipient": matching(action.get("recipient"), ADDRESS, "recipient"),
                "asset": matching(action.get("asset"), ASSET, "asset"),
                "amount": str(amount(action.get("amount"))),
                "hashlock": hash32(action.get("hashlock"), "hashlock"),
                "expiry_ms": unsigned(action.get("expiry_ms"), "expiry_ms")}
    if name == "htlc_claim":
        return {"action": name, "lock_id": hash32(action.get("lock_id"), "lock_id"),
                "preimage": hash32(action.get("preimage"), "preimage")}
    if name == "htlc_refund":
        return {"action": name, "lock_id": hash32(action.get("lock_id"), "lock_id")}
    if name in ("bridge_send", "bridge_submit_attestation", "bridge_execute"):
        from bridge import check_bridge_action
        return check_bridge_action(action, name)
    raise InvalidParams(f"unknown action {name!r}")


class Ledger:
    """The chain. All methods are thread-safe; one lock guards the one connection."""

    def __init__(self, path, chain_id, operator, fund, hashlock_fn):
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.hashlock_fn = hashlock_fn
        self.operator = operator
        # Set by the adapter when started with --bridge (bridge.Bridge).
        self.bridge = None
        with self._write():
            stored = self._meta("chain_id")
            if stored is None:
                self._init(chain_id, fund)
            elif stored != chain_id:
                raise SystemExit(f"{path} holds chain {stored}, not {chain_id}: use another --db")
        self.chain_id = chain_id
        self.secret = bytes.fromhex(self._meta("secret"))

    @contextlib.contextmanager
    def _write(self):
        """One atomic SQLite transaction under the lock."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _meta(self, key):
        # fetchall, not fetchone: an unfinished statement keeps its read snapshot open, and
        # with two adapter processes on one database that snapshot goes stale (the head
        # appeared to go backwards).
        rows = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchall()
        return rows[0][0] if rows else None

    def _set_meta(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def _init(self, chain_id, fund):
        self._set_meta("chain_id", chain_id)
        self._set_meta("secret", os.urandom(32).hex())
        self._set_meta("height", 0)
        self._set_meta("time_ms", now_ms())
        self._set_meta("prepared", 0)
        for asset, value in fund:
            self._credit(self.operator, asset, value)

    def head(self):
        """(height, time_ms) of the head, which is also the finalized head, read together."""
        with self.lock:
            rows = dict(self.db.execute(
                "SELECT key, value FROM meta WHERE key IN ('height', 'time_ms')").fetchall())
            return int(rows["height"]), int(rows["time_ms"])

    # --- balances -------------------------------------------------------------------

    def _balance(self, account, asset):
        row = self.db.execute(
            "SELECT amount FROM balances WHERE account = ? AND asset = ?", (account, asset)
        ).fetchone()
        return int(row[0]) if row else 0

    def _credit(self, account, asset, value):
        total = self._balance(account, asset) + value
        self.db.execute("INSERT OR REPLACE INTO balances VALUES (?, ?, ?)",
                        (account, asset, str(total)))

    def _debit(self, account, asset, value):
        have = self._balance(account, asset)
        if have < value:
            raise Rejected(10, f"insufficient balance: {account} holds {have} {asset}, needs {value}")
        self.db.execute("INSERT OR REPLACE INTO balances VALUES (?, ?, ?)",
                        (account, asset, str(have - value)))

    def balance(self, account, asset):
        with self.lock:
            return self._balance(account, asset)

    # --- transactions ---------------------------------------------------------------

    def _auth(self, tx):
        return hmac.new(self.secret, canonical(tx).encode(), hashlib.sha256).hexdigest()

    def prepare(self, action):
        """Builds and authenticates (the ledger's stand-in for signing) a transaction."""
        with self._write():
            seq = int(self._meta("prepared"))
            self._set_meta("prepared", seq + 1)
        tx = {"chain_id": self.chain_id, "from": self.operator, "seq": seq, "action": action}
        return {"chain_id": self.chain_id, "id": sha256_hex(canonical(tx).encode()),
                "action": action, "raw": {"tx": tx, "auth": self._auth(tx)}}

    def check_prepared(self, prepared):
        """Checks a PreparedTx handed back for broadcast; returns (id, raw tx)."""
        if not isinstance(prepared, dict) or not isinstance(prepared.get("raw"), dict):
            raise InvalidParams("tx must be a prepared transaction with a `raw` object")
        tx = prepared["raw"].get("tx")
        tx_id = hash32(prepared.get("id"), "tx.id")
        if not isinstance(tx, dict) or sha256_hex(canonical(tx).encode()) != tx_id:
            raise Rejected(CODE_BAD_AUTH, f"transaction {tx_id} does not hash to its id")
        if not hmac.compare_digest(str(prepared["raw"].get("auth")), self._auth(tx)):
            raise Rejected(CODE_BAD_AUTH, f"transaction {tx_id} is not authenticated by this ledger")
        if tx.get("chain_id") != self.chain_id or prepared.get("chain_id") != self.chain_id:
            raise Rejected(CODE_WRONG_CHAIN, f"transaction {tx_id} is for another chain")
        if check_action(prepared.get("action")) != tx.get("action"):
            raise InvalidParams(f"transaction {tx_id}: action differs from the signed one")
        return tx_id, tx

    def broadcast(self, tx_id, tx, idempotent=True):
        with self._write():
            if idempotent:
                known = self.db.execute(
                    "SELECT 1 FROM txs WHERE tx_id = ? UNION ALL "
                    "SELECT 1 FROM mempool WHERE tx_id = ?", (tx_id, tx_id)).fetchone()
                if known:
                    return
            (queued,) = self.db.execute("SELECT COUNT(*) FROM mempool").fetchone()
            if queued >= MAX_MEMPOOL:
                raise Rejected(CODE_MEMPOOL_FULL, "mempool is full: retry later")
            self.db.execute("INSERT INTO mempool (tx_id, raw) VALUES (?, ?)",
                            (tx_id, canonical(tx)))

    def tx_status(self, tx_id):
        with self.lock:
            row = self.db.execute(
                "SELECT height, outcome, reason FROM txs WHERE tx_id = ?", (tx_id,)).fetchone()
            if row:
                outcome = {"outcome": "success"} if row[1] == "success" else {
                    "outcome": "failed", "reason": row[2]}
                return {"state": "final", "height": row[0], "outcome": outcome}
            pending = self.db.execute(
                "SELECT 1 FROM mempool WHERE tx_id = ?", (tx_id,)).fetchone()
            return {"state": "pending"} if pending else {"state": "unknown"}

    # --- blocks ---------------------------------------------------------------------

    def produce_block(self):
        """Commits the next block with what the mempool holds; one SQLite transaction."""
        with self._write():
            height = int(self._meta("height")) + 1
            time_ms = max(now_ms(), int(self._meta("time_ms")) + 1)
            rows = self.db.execute("SELECT seq, tx_id, raw FROM mempool ORDER BY seq LIMIT ?",
                                   (MAX_TXS_PER_BLOCK,)).fetchall()
            events = []
            for seq, tx_id, raw in rows:
                self._execute(height, time_ms, tx_id, json.loads(raw), events)
                self.db.execute("DELETE FROM mempool WHERE seq = ?", (seq,))
            for idx, (tx_id, kind) in enumerate(events):
                self.db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                                (height, idx, tx_id, time_ms, canonical(kind)))
            self._set_meta("height", height)
            self._set_meta("time_ms", time_ms)

    def _execute(self, height, time_ms, tx_id, tx, events):
        self.db.execute("SAVEPOINT tx")
        try:
            emitted = self._apply(tx["from"], tx["action"], tx_id, time_ms)
        except Rejected as refusal:
            self.db.execute("ROLLBACK TO tx")
            self.db.execute("RELEASE tx")
            self.db.execute("INSERT OR REPLACE INTO txs VALUES (?, ?, 'failed', ?)",
                            (tx_id, height, f"{refusal} (code {refusal.chain_code})"))
            return
        self.db.execute("RELEASE tx")
        self.db.execute("INSERT OR REPLACE INTO txs VALUES (?, ?, 'success', NULL)",
                        (tx_id, height))
        events.extend((tx_id, kind) for kind in emitted)

    def _apply(self, sender, action, tx_id, time_ms):
        name = action["action"]
        if name.startswith("bridge_"):
            if self.bridge is None:
                raise Rejected(40, "this ledger has no bridge (start the adapter with --bridge)")
            return self.bridge.apply(sender, action, time_ms)
        if name == "transfer":
            value = int(action["amount"])
            if value == 0:
                raise Rejected(11, "amount must be positive")
            self._debit(sender, action["asset"], value)
            self._credit(action["to"], action["asset"], value)
            return [{"type": "transfer", "from": sender, "to": action["to"],
                     "asset": action["asset"], "amount": action["amount"]}]
        if name == "htlc_lock":
            value = int(action["amount"])
            if value == 0:
                raise Rejected(11, "amount must be positive")
            if action["expiry_ms"] <= time_ms:
                raise Rejected(20, f"expiry {action['expiry_ms']} is not after block time {time_ms}")
            self._debit(sender, action["asset"], value)
            self.db.execute("INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?, ?, 'open')",
                            (tx_id, sender, action["recipient"], action["asset"],
                             action["amount"], action["hashlock"], action["expiry_ms"]))
            return [{"type": "htlc_locked", "lock_id": tx_id, "sender": sender,
                     "recipient": action["recipient"], "asset": action["asset"],
                     "amount": action["amount"], "hashlock": action["hashlock"],
                     "expiry_ms": action["expiry_ms"]}]
        lock = self._open_lock(action["lock_id"])
        _, lock_sender, recipient, asset, locked, hashlock, expiry_ms, _ = lock
        if name == "htlc_claim":
            if time_ms >= expiry_ms:
                raise Rejected(22, f"lock expired at {expiry_ms}, block time is {time_ms}")
            if self.hashlock_fn(action["preimage"]) != hashlock:
                raise Rejected(23, "preimage does not match the hashlock")
            self._settle(action["lock_id"], "claimed", recipient, asset, locked)
            return [{"type": "htlc_claimed", "lock_id": action["lock_id"], "hashlock": hashlock,
                     "preimage": action["preimage"], "recipient": recipient}]
        if time_ms < expiry_ms:
            raise Rejected(24, f"lock expires at {expiry_ms}, block time is only {time_ms}")
        self._settle(action["lock_id"], "refunded", lock_sender, asset, locked)
        return [{"type": "htlc_refunded", "lock_id": action["lock_id"], "hashlock": hashlock,
                 "sender": lock_sender}]

    def _open_lock(self, lock_id):
        lock = self.db.execute("SELECT * FROM locks WHERE lock_id = ?", (lock_id,)).fetchone()
        if lock is None:
            raise Rejected(21, f"no lock {lock_id}")
        if lock[7] != "open":
            raise Rejected(25, f"lock {lock_id} is already {lock[7]}")
        return lock

    def _settle(self, lock_id, state, payee, asset, locked):
        self.db.execute("UPDATE locks SET state = ? WHERE lock_id = ?", (state, lock_id))
        self._credit(payee, asset, int(locked))

    # --- events ---------------------------------------------------------------------

    def events(self, height, index, limit):
        """Finalized events at positions >= (height, index), and the finalized height."""
        with self.lock:
            finalized = int(self._meta("height"))
            rows = self.db.execute(
                "SELECT height, idx, tx_hash, time_ms, kind FROM events "
                "WHERE (height > ? OR (height = ? AND idx >= ?)) AND height <= ? "
                "ORDER BY height, idx LIMIT ?",
                (height, height, index, finalized, limit)).fetchall()
            before = self.db.execute(
                "SELECT height, idx, tx_hash, time_ms, kind FROM events "
                "WHERE height < ? OR (height = ? AND idx < ?) ORDER BY height DESC, idx DESC "
                "LIMIT 1", (height, height, index)).fetchone()
        return [self._event(r) for r in rows], finalized, before and self._event(before)

    def _event(self, row):
        height, idx, tx_hash, time_ms, kind = row
        return {"chain_id": self.chain_id, "position": {"height": height, "index": idx},
                "tx_hash": tx_hash, "time_ms": time_ms, "kind": json.loads(kind)}


def sha256_of_raw_preimage(preimage_hex):
    """specs/adapter.md §5.2: SHA-256 over the 32 raw bytes."""
    return sha256_hex(bytes.fromhex(preimage_hex))


def sha256_of_hex_text(preimage_hex):
    """The non-interoperable variant some platforms use (fault `wrong-hashlock`)."""
    return sha256_hex(preimage_hex.encode())
