"""Pure rule evaluation: the pending -> firing -> resolved lifecycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.alerting.rules import Transition, evaluate, fingerprint
from monitor.config import RuleSettings
from monitor.domain import AlertRecord, Signal

NOW = datetime(2026, 3, 2, tzinfo=UTC)
RULE = RuleSettings(
    name="Drift",
    signal="drift",
    op=">=",
    threshold=1.0,
    for_runs=2,
    severity="warning",
    summary="drift on {model} at {value:.0f}",
)
LABELS = {"model": "prod", "model_version": "v1"}


def _sig(*history: float, result_id: int = 1) -> Signal:
    return Signal("drift", LABELS, history[0], result_id, history)


def _record(t: Transition, **kw: object) -> AlertRecord:
    base = AlertRecord(
        id=1,
        rule=t.rule,
        fingerprint=t.fingerprint,
        labels=t.labels,
        severity=t.severity,
        state=t.state,
        streak=t.streak,
        value=t.value,
        summary=t.summary,
        started_at=NOW,
        fired_at=None,
        resolved_at=None,
        last_notified_at=None,
        last_result_id=t.result_id,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_label_order_free() -> None:
    assert fingerprint("R", {"a": "1", "b": "2"}) == fingerprint("R", {"b": "2", "a": "1"})
    assert fingerprint("R", {"a": "1"}) != fingerprint("S", {"a": "1"})


def test_pending_then_firing_then_resolved() -> None:
    (t1,) = evaluate([RULE], [_sig(1.0, 0.0)], [], NOW, timedelta(hours=4))
    assert (t1.state, t1.notify, t1.streak) == ("pending", None, 1)
    pending = _record(t1)
    (t2,) = evaluate([RULE], [_sig(1.0, 1.0, 0.0, result_id=2)], [pending], NOW, timedelta(hours=4))
    assert (t2.state, t2.notify, t2.summary) == ("firing", "firing", "drift on prod at 1")
    firing = _record(t2, state="firing", last_notified_at=NOW, fired_at=NOW)
    (t3,) = evaluate([RULE], [_sig(0.0, 1.0, result_id=3)], [firing], NOW, timedelta(hours=4))
    assert (t3.state, t3.notify) == ("resolved", "resolved")


def test_pending_that_clears_is_dropped_silently() -> None:
    (t1,) = evaluate([RULE], [_sig(1.0, 0.0)], [], NOW, timedelta(hours=4))
    (t2,) = evaluate([RULE], [_sig(0.0, 1.0, result_id=2)], [_record(t1)], NOW, timedelta(hours=4))
    assert (t2.state, t2.notify) == ("dropped", None)


def test_firing_renotifies_only_after_the_interval() -> None:
    (t,) = evaluate([RULE], [_sig(1.0, 1.0)], [], NOW, timedelta(hours=4))
    firing = _record(t, state="firing", last_notified_at=NOW, fired_at=NOW)
    assert (
        evaluate([RULE], [_sig(1.0, 1.0)], [firing], NOW + timedelta(hours=1), timedelta(hours=4))
        == []
    )
    (again,) = evaluate(
        [RULE], [_sig(1.0, 1.0)], [firing], NOW + timedelta(hours=4), timedelta(hours=4)
    )
    assert (again.state, again.notify) == ("firing", "firing")


def test_an_alert_whose_signal_vanished_resolves() -> None:
    (t,) = evaluate([RULE], [_sig(1.0, 1.0)], [], NOW, timedelta(hours=4))
    firing = _record(t, state="firing")
    (gone,) = evaluate([RULE], [], [firing], NOW, timedelta(hours=4))
    assert (gone.state, gone.notify) == ("resolved", "resolved")


def test_rules_filter_by_signal_and_test() -> None:
    rule = RuleSettings(name="P", signal="drift_p_value", test="mmd", op="<", threshold=0.01)
    sigs = [
        Signal("drift_p_value", {**LABELS, "test": "mmd"}, 0.001, 1, (0.001,)),
        Signal("drift_p_value", {**LABELS, "test": "energy"}, 0.001, 1, (0.001,)),
        _sig(1.0),
    ]
    (t,) = evaluate([rule], sigs, [], NOW, timedelta(hours=4))
    assert t.labels["test"] == "mmd" and t.state == "firing"


def test_retrieval_drop_is_the_trailing_mean_minus_the_latest() -> None:
    from monitor.alerting.signals import _retrieval_drops
    from monitor.config import load_settings
    from monitor.domain import CanaryRunRecord

    def run(i: int, ndcg: float) -> CanaryRunRecord:
        return CanaryRunRecord(
            i,
            "prod",
            "v1",
            "core",
            NOW,
            "unchanged",
            1.0,
            1.0,
            1.0,
            0.0,
            1.0,
            0.999,
            retrieval={"ndcg@10": ndcg, "top1_median": 0.5},
        )

    labels = {"model": "prod", "model_version": "v1", "canary_set": "core"}
    (sig,) = _retrieval_drops(labels, [run(9, 0.80), run(8, 0.90), run(7, 0.92), run(6, 0.88)])
    assert sig.name == "retrieval_drop" and sig.labels["test"] == "ndcg@10"
    assert abs(sig.value - 0.10) < 1e-12 and sig.result_id == 9
    assert _retrieval_drops(labels, [run(1, 0.5)]) == [], "no trailing runs, no signal"
    rules = load_settings(None).alerts.rules
    (t,) = [
        t
        for t in evaluate(rules, [sig], [], NOW, timedelta(hours=4))
        if t.rule == "EmbeddingRetrievalDrop"
    ]
    assert t.state == "firing" and "fell 0.100 below" in t.summary
