"""Tests of receiver.ledger: one event per delivery, repeats marked and never dropped, the id upgrade."""
