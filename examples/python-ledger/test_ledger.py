"""Unit tests of the SQLite ledger (stdlib unittest). Sections name specs/adapter.md."""

import os
import tempfile
import unittest

import ledger as chain

PREIMAGE = "01" * 32
# specs/adapter.md §5.2: SHA-256 over the 32 raw bytes 0x01*32.
HASHLOCK = "72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793"


class LedgerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "l.sqlite")
        self.ledger = self.open()

    def tearDown(self):
        self.dir.cleanup()

    def open(self, hashing=chain.sha256_of_raw_preimage):
        return chain.Ledger(self.path, "test-1", "op", [("USD", 100)], hashing)

    def submit(self, action, ledger=None):
        ledger = ledger or self.ledger
        prepared = ledger.prepare(chain.check_action(action))
        ledger.broadcast(*ledger.check_prepared(prepared))
        return prepared

    def transfer(self, amount):
        return {"action": "transfer", "to": "bob", "asset": "USD", "amount": str(amount)}

    def test_hashlock_is_sha256_of_raw_bytes(self):  # §5.2
        self.assertEqual(chain.sha256_of_raw_preimage(PREIMAGE), HASHLOCK)
        self.assertNotEqual(chain.sha256_of_hex_text(PREIMAGE), HASHLOCK)

    def test_broadcast_twice_has_one_effect(self):  # §3.2
        prepared = self.submit(self.transfer(5))
        self.ledger.broadcast(*self.ledger.check_prepared(prepared))
        self.ledger.produce_block()
        self.ledger.broadcast(*self.ledger.check_prepared(prepared))
        self.ledger.produce_block()
        self.assertEqual(self.ledger.balance("bob", "USD"), 5)
        self.assertEqual(self.ledger.tx_status(prepared["id"])["state"], "final")

    def test_forged_transaction_is_rejected_with_a_chain_code(self):  # §3.4
        prepared = self.ledger.prepare(chain.check_action(self.transfer(5)))
        prepared["raw"]["tx"]["action"]["amount"] = "99"
        with self.assertRaises(chain.Rejected) as refused:
            self.ledger.check_prepared(prepared)
        self.assertEqual(refused.exception.chain_code, chain.CODE_BAD_AUTH)

    def test_overdraft_is_final_failed_and_moves_nothing(self):  # §3.3, §3.4
        prepared = self.submit(self.transfer(1000))
        self.ledger.produce_block()
        status = self.ledger.tx_status(prepared["id"])
        self.assertEqual(status["outcome"]["outcome"], "failed")
        self.assertEqual(self.ledger.balance("op", "USD"), 100)

    def test_htlc_claim_needs_the_raw_preimage(self):  # §5.1, §5.2
        lock = self.submit({"action": "htlc_lock", "recipient": "bob", "asset": "USD",
                            "amount": "10", "hashlock": HASHLOCK,
                            "expiry_ms": chain.now_ms() + 60_000})
        self.ledger.produce_block()
        wrong = self.submit({"action": "htlc_claim", "lock_id": lock["id"],
                             "preimage": "02" * 32})
        right = self.submit({"action": "htlc_claim", "lock_id": lock["id"],
                             "preimage": PREIMAGE})
        self.ledger.produce_block()
        self.assertEqual(self.ledger.tx_status(wrong["id"])["outcome"]["outcome"], "failed")
        self.assertEqual(self.ledger.tx_status(right["id"])["outcome"]["outcome"], "success")
        self.assertEqual(self.ledger.balance("bob", "USD"), 10)
        events, _, _ = self.ledger.events(0, 0, 10)
        self.assertEqual([e["kind"]["type"] for e in events], ["htlc_locked", "htlc_claimed"])
        self.assertEqual(events[1]["kind"]["preimage"], PREIMAGE)

    def test_events_survive_reopening_in_order(self):  # §2.2, §2.3, §2.5
        for amount in (1, 2, 3):
            self.submit(self.transfer(amount))
        self.ledger.produce_block()
        first, finalized, _ = self.ledger.events(0, 0, 10)
        reopened = self.open()
        again, _, _ = reopened.events(0, 0, 10)
        self.assertEqual(first, again)
        positions = [(e["position"]["height"], e["position"]["index"]) for e in first]
        self.assertEqual(positions, sorted(positions))
        self.assertTrue(all(h <= finalized for h, _ in positions))
        tail, _, before = reopened.events(positions[1][0], positions[1][1], 10)
        self.assertEqual(tail, first[1:])
        self.assertEqual(before, first[0])

    def test_bad_input_is_invalid_params(self):
        for action in ({"action": "transfer", "to": "a b", "asset": "USD", "amount": "1"},
                       {"action": "transfer", "to": "b", "asset": "USD", "amount": "-1"},
                       {"action": "htlc_claim", "lock_id": "zz", "preimage": PREIMAGE},
                       {"action": "mint"}):
            with self.assertRaises(chain.InvalidParams):
                chain.check_action(action)
        with self.assertRaises(chain.InvalidParams):
            chain.check_action({"action": "bridge_send"})


if __name__ == "__main__":
    unittest.main()
