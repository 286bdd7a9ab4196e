#!/usr/bin/env python3
"""Causeway adapter for the SQLite ledger, speaking specs/adapter-protocol.md over HTTP.

Python 3.11 standard library only. Run `python3 adapter.py --help`.
"""

import argparse
import os
import http.server
import json
import sys
import threading
import time

import ledger as chain

PROTOCOL_VERSION = "1.0"
ADAPTER_NAME = "python-ledger"
ADAPTER_VERSION = "0.1.0"
MAX_REQUEST_BYTES = 1 << 20

# specs/adapter-protocol.md §5
UNSUPPORTED = -32001
REJECTED = -32002
INCOMPATIBLE_VERSION = -32008
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

class IncompatibleVersion(Exception):
    """The caller speaks another major protocol version: code -32008."""


FAULTS = {
    "out-of-order": "pages list events backwards and repeat the event before the cursor",
    "above-finalized": "pages contain events above the finalized height they report",
    "wrong-hashlock": "HTLCs hash the hex text of the preimage instead of its 32 raw bytes",
    "hide-hashlock": "adapter_hashlock is not served (so only on-chain checks reveal hashing)",
    "non-idempotent-broadcast": "broadcasting a transaction again executes it again",
    "wrong-chain-id": "the adapter reports another chain id",
    "malformed-json": "answers are not valid JSON",
    "slow": "every answer waits --slow-ms first",
}


class Adapter:
    """The protocol's methods, each taking the request's named params."""

    def __init__(self, ledger, args):
        self.ledger = ledger
        self.args = args
        self.faults = set(args.fault)
        self.reported_chain = (
            f"{args.chain_id[:57]}-other" if "wrong-chain-id" in self.faults else args.chain_id
        )

    def handshake(self, protocol_version):
        if not isinstance(protocol_version, str) or "." not in protocol_version:
            raise chain.InvalidParams("protocol_version must be a string like 1.0")
        theirs = protocol_version.split(".")[0]
        if theirs != self.args.protocol_version.split(".")[0]:
            raise IncompatibleVersion(
                f"this adapter speaks adapter protocol {self.args.protocol_version}, the caller "
                f"{protocol_version}; major versions must match")
        return {"protocol_version": self.args.protocol_version,
                "adapter": {"name": ADAPTER_NAME, "version": ADAPTER_VERSION},
                "chain_id": self.reported_chain,
                "capabilities": {"transfer": True, "htlc": True,
                                 "bridge": self.ledger.bridge is not None},
                "signer": self.ledger.operator}

    def info(self):
        height, time_ms = self.ledger.head()
        return {"chain_id": self.reported_chain, "kind": "python-ledger", "height": height,
                "finalized_height": height, "finalized_time_ms": time_ms,
                "block_time_ms": self.args.block_ms, "finality": {"rule": "instant"}}

    def events(self, cursor, limit):
        if not isinstance(cursor, dict):
            raise chain.InvalidParams("cursor must be {height, index}")
        height = chain.unsigned(cursor.get("height"), "cursor.height")
        index = chain.unsigned(cursor.get("index"), "cursor.index")
        if index >= 2**32:
            raise chain.InvalidParams("cursor.index must be a u32")
        limit = min(chain.unsigned(limit, "limit"), chain.MAX_EVENTS_PER_PAGE)
        if limit == 0:
            raise chain.InvalidParams("limit must be at least 1")
        events, finalized, before = self.ledger.events(height, index, limit)
        # specs/adapter.md §2.4: past the last event, or past every finalized block scanned.
        if len(events) == limit:
            last = events[-1]["position"]
            nxt = {"height": last["height"], "index": last["index"] + 1}
        else:
            nxt = max({"height": finalized + 1, "index": 0}, {"height": height, "index": index},
                      key=lambda c: (c["height"], c["index"]))
        if "out-of-order" in self.faults:
            events.reverse()
            if before is not None:
                events.insert(0, before)
        if "above-finalized" in self.faults and events:
            finalized = max(0, events[-1]["position"]["height"] - 1)
        return {"events": events, "next": nxt, "finalized_height": finalized}

    def balance(self, account, asset):
        account = chain.matching(account, chain.ADDRESS, "account")
        asset = chain.matching(asset, chain.ASSET, "asset")
        return str(self.ledger.balance(account, asset))

    def prepare(self, action):
        checked = chain.check_action(action)
        if checked["action"].startswith("bridge_") and self.ledger.bridge is None:
            raise chain.Unsupported(f"action {checked['action']} (start the adapter with --bridge)")
        return self.ledger.prepare(checked)

    def broadcast(self, tx):
        tx_id, raw = self.ledger.check_prepared(tx)
        idempotent = "non-idempotent-broadcast" not in self.faults
        self.ledger.broadcast(tx_id, raw, idempotent=idempotent)
        return None

    def txStatus(self, id):  # noqa: N802 (the protocol's method name)
        return self.ledger.tx_status(chain.hash32(id, "id"))

    def hashlock(self, preimage):
        if "hide-hashlock" in self.faults:
            raise LookupError
        return self.ledger.hashlock_fn(chain.hash32(preimage, "preimage"))


def error(code, message, data=None):
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return err


def dispatch(adapter, request):
    """One JSON-RPC request object -> (response object or None for a notification)."""
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
        return {"jsonrpc": "2.0", "id": None, "error": error(INVALID_REQUEST, "not JSON-RPC 2.0")}
    req_id = request.get("id")
    method = request.get("method", "")
    params = request.get("params") or {}
    handler = None
    if isinstance(method, str) and method.startswith("adapter_"):
        handler = getattr(adapter, method.removeprefix("adapter_"), None)
    try:
        if handler is None:
            raise LookupError
        if isinstance(params, list):
            result = handler(*params)
        elif isinstance(params, dict):
            result = handler(**params)
        else:
            raise chain.InvalidParams("params must be an object or an array")
        reply = {"result": result}
    except LookupError:
        reply = {"error": error(METHOD_NOT_FOUND, f"no method {method!r}")}
    except TypeError as e:
        reply = {"error": error(INVALID_PARAMS, f"{method}: {e}")}
    except chain.InvalidParams as e:
        reply = {"error": error(INVALID_PARAMS, str(e))}
    except IncompatibleVersion as e:
        reply = {"error": error(INCOMPATIBLE_VERSION, str(e))}
    except chain.Unsupported as e:
        reply = {"error": error(UNSUPPORTED, str(e))}
    except chain.Rejected as e:
        reply = {"error": error(REJECTED, str(e), {"chain_code": e.chain_code})}
    except Exception as e:  # a bug here must not kill the server
        reply = {"error": error(INTERNAL_ERROR, f"{type(e).__name__}: {e}")}
    if "id" not in request:
        return None
    return {"jsonrpc": "2.0", "id": req_id, **reply}


def handler_for(adapter):
    faults = adapter.faults
    slow_s = adapter.args.slow_ms / 1000

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self.send_error(413, f"request above {MAX_REQUEST_BYTES} bytes")
                return
            body = self.rfile.read(length)
            try:
                request = json.loads(body)
            except ValueError:
                response = {"jsonrpc": "2.0", "id": None, "error": error(PARSE_ERROR, "not JSON")}
            else:
                response = (dispatch(adapter, request) if not isinstance(request, list) else
                            {"jsonrpc": "2.0", "id": None,
                             "error": error(INVALID_REQUEST, "batches are not supported")})
            if "slow" in faults:
                time.sleep(slow_s)
            if response is None:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            out = json.dumps(response).encode()
            if "malformed-json" in faults:
                out = out[: len(out) // 2]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, fmt, *args):
            if adapter.args.verbose:
                sys.stderr.write("%s\n" % (fmt % args))

    return Handler


def produce_blocks(ledger, block_ms, stop):
    while not stop.wait(block_ms / 1000):
        try:
            ledger.produce_block()
        except Exception as e:  # keep producing; report why a block failed
            sys.stderr.write(f"block production failed: {e}\n")


def parse_fund(text):
    fund = []
    for part in filter(None, text.split(",")):
        asset, _, value = part.partition(":")
        fund.append((chain.matching(asset, chain.ASSET, "--fund asset"),
                     chain.amount(value, "--fund amount")))
    return fund


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="ledger.sqlite", help="SQLite file holding the chain")
    p.add_argument("--chain-id", default="pyledger-1")
    p.add_argument("--listen", default="127.0.0.1:8700", help="HOST:PORT (port 0: any free)")
    p.add_argument("--addr-file", help="write the bound HOST:PORT here once listening")
    p.add_argument("--operator", default="operator", help="the account this adapter signs as")
    p.add_argument("--fund", default="USD:1000000000",
                   help="genesis balances of the operator, ASSET:AMOUNT,... (new --db only)")
    p.add_argument("--block-ms", type=int, default=100, help="block interval")
    p.add_argument("--bridge", metavar="FILE",
                   help="bridge config JSON (specs/devchain.md §13.1); needs `cryptography`")
    p.add_argument("--protocol-version", default=PROTOCOL_VERSION,
                   help="version announced in the handshake (tests use another major)")
    p.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                   help="misbehave on purpose, to test the relay: " +
                   "; ".join(f"{k}: {v}" for k, v in FAULTS.items()))
    p.add_argument("--slow-ms", type=int, default=2000, help="delay for --fault slow")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args()
    try:
        chain.matching(args.chain_id, chain.SLUG, "--chain-id")
        chain.matching(args.operator, chain.ADDRESS, "--operator")
        fund = parse_fund(args.fund)
    except chain.InvalidParams as e:
        p.error(str(e))
    if args.block_ms < 1:
        p.error("--block-ms must be at least 1")

    hashing = (chain.sha256_of_hex_text if "wrong-hashlock" in args.fault
               else chain.sha256_of_raw_preimage)
    ledger = chain.Ledger(args.db, args.chain_id, args.operator, fund, hashing)
    if args.bridge:
        import bridge
        ledger.bridge = bridge.Bridge(ledger, bridge.load_config(args.bridge))
    adapter = Adapter(ledger, args)
    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), handler_for(adapter))
    server.daemon_threads = True
    bound = "%s:%d" % server.server_address[:2]
    if args.addr_file:
        with open(args.addr_file + ".tmp", "w") as f:
            f.write(bound)
        os.replace(args.addr_file + ".tmp", args.addr_file)
    stop = threading.Event()
    threading.Thread(target=produce_blocks, args=(ledger, args.block_ms, stop),
                     daemon=True).start()
    sys.stderr.write(f"{ADAPTER_NAME} for chain {args.chain_id} listening on http://{bound}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


if __name__ == "__main__":
    main()
