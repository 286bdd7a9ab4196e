"""The bridge's parsing, hashing and proofs against the published vectors
(notary/vectors/attestation.json, specs/notary.md §7.8). Run: python3 -m unittest."""

import json
import os
import unittest

import bridge
from ledger import Rejected

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "notary", "vectors", "attestation.json")


def vectors():
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)


class BridgeVectors(unittest.TestCase):
    def setUp(self):
        self.v = vectors()

    def test_leaves_and_proofs_match_the_vectors(self):  # §7.6
        for t in self.v["transfers"]:
            self.assertEqual(bridge.leaf_bytes(t["transfer"]).hex(), t["leaf_bytes_hex"])
            leaf = bridge.leaf_hash(t["transfer"])
            self.assertEqual(leaf.hex(), t["leaf_hash"])
            root = bridge.root_from_proof(leaf, t["proof"])
            self.assertEqual(root.hex(), self.v["merkle_root"])

    def test_a_wrong_proof_leads_elsewhere(self):  # §7.6
        t = self.v["transfers"][0]
        proof = dict(t["proof"], leaf_index=1)
        self.assertNotEqual(bridge.root_from_proof(bridge.leaf_hash(t["transfer"]), proof).hex(),
                            self.v["merkle_root"])
        short = dict(t["proof"], siblings=t["proof"]["siblings"][:1])
        self.assertIsNone(bridge.root_from_proof(bridge.leaf_hash(t["transfer"]), short))

    def test_attestations_parse_and_verify(self):  # §7.2–§7.5, §7.7
        for a in self.v["attestations"]:
            message = bytes.fromhex(a["message_hex"])
            parsed = bridge.parse_attestation(message)
            self.assertEqual(parsed["committee_id"], a["attestation"]["committee_id"])
            self.assertEqual(parsed["key_epoch"], a["attestation"]["key_epoch"])
            self.assertTrue(bridge.verify_signature(self.v["group_key_hex"], message, a["signature_hex"]))
            tampered = message[:-1] + bytes([message[-1] ^ 1])
            self.assertFalse(bridge.verify_signature(self.v["group_key_hex"], tampered, a["signature_hex"]))
        batch = bridge.parse_attestation(bytes.fromhex(self.v["attestations"][0]["message_hex"]))
        self.assertEqual(batch["merkle_root"], self.v["merkle_root"])
        self.assertEqual(batch["transfer_count"], 3)

    def test_malformed_attestations_are_refused(self):  # §7.7: never "unset", never trailing
        message = bytes.fromhex(self.v["attestations"][0]["message_hex"])
        zero_committee = message[:19] + bytes(32) + message[51:]
        for bad in (message + b"\x00", message[:-1], b"X" + message[1:], zero_committee,
                    message[:18] + b"\x09" + message[19:]):
            with self.assertRaises(Rejected):
                bridge.parse_attestation(bad)


class BridgeLedger(unittest.TestCase):
    """specs/devchain.md §13.3–§13.4 on this ledger, with the vectors' signed batch."""

    def setUp(self):
        import tempfile
        import ledger as chain
        self.v = vectors()
        self.dir = tempfile.TemporaryDirectory()
        batch = self.v["attestations"][0]["attestation"]
        self.ledger = chain.Ledger(os.path.join(self.dir.name, "l.sqlite"), batch["dest_chain"],
                                   "op", [], chain.sha256_of_raw_preimage)
        self.ledger.bridge = bridge.Bridge(self.ledger, {
            "committee_id": batch["committee_id"], "group_key": self.v["group_key_hex"],
            "key_epoch": 1,
            "routes": [{"asset": "wUSD", "dest_chain": batch["source_chain"], "dest_asset": "USD"}],
            "wrapped": [{"asset": "wUSD", "origin_chain": batch["source_chain"], "origin_asset": "USD"}]})

    def tearDown(self):
        self.dir.cleanup()

    def run_tx(self, action):
        import ledger as chain
        prepared = self.ledger.prepare(chain.check_action(action))
        self.ledger.broadcast(*self.ledger.check_prepared(prepared))
        self.ledger.produce_block()
        return self.ledger.tx_status(prepared["id"])["outcome"]

    def test_signed_batch_mints_once_and_replays_are_refused(self):
        a = self.v["attestations"][0]
        submit = {"action": "bridge_submit_attestation", "attestation": a["message_hex"],
                  "signature": a["signature_hex"]}
        self.assertEqual(self.run_tx(submit), {"outcome": "success"})
        self.assertIn("replayed", self.run_tx(submit)["reason"])
        t = self.v["transfers"][0]
        execute = {"action": "bridge_execute", "transfer": t["transfer"], "proof": t["proof"]}
        self.assertEqual(self.run_tx(execute), {"outcome": "success"})
        self.assertEqual(self.ledger.balance(t["transfer"]["recipient"], "wUSD"), 1000)
        self.assertIn("replay", self.run_tx(execute)["reason"])
        self.assertEqual(self.ledger.balance(t["transfer"]["recipient"], "wUSD"), 1000)

    def test_forged_signature_is_refused(self):
        a = self.v["attestations"][0]
        forged = {"action": "bridge_submit_attestation", "attestation": a["message_hex"],
                  "signature": "00" * 64}
        self.assertIn("does not verify", self.run_tx(forged)["reason"])


if __name__ == "__main__":
    unittest.main()
