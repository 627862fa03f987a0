"""The seed's three patterns, as a scenario uses them on the broker.

* a specific instance (1:1): a call with ``instance: i`` is published on ``<subject>.<i>``,
  which only instance i subscribes to;
* load sharing: requests on the operation's subject go to one member of the queue group;
* broadcast (1:n): an event reaches every ``each`` subscriber (one copy per instance) and one
  instance of every ``shared`` one.
"""

from __future__ import annotations

from collections import Counter

from sim.engine import scripted_run
from sim.messaging.transport import MessagingTransport, instance_subject
from tests.helpers import scenario

TEXT = """
name: patterns
run: {duration: 4, warmup: 1}
services:
  front:
    instances: 1
    operations:
      pinned: {calls: [{service: worker, operation: work, instance: 2}]}
      shared: {calls: [{service: worker, operation: work}], emits: [{subject: ev.done}]}
  worker:
    instances: 3
    operations:
      work: {demand: {dist: constant, value: 0.1ms}}
  each-listener:
    instances: 3
    operations: {hear: {}}
    subscriptions: [{subject: "ev.*", operation: hear, delivery: each}]
  shared-listener:
    instances: 3
    operations: {hear: {}}
    subscriptions: [{subject: "ev.*", operation: hear, delivery: shared}]
workload:
  arrivals: {kind: constant, rate: 200}
  clients: 2
  flows:
    - {name: pinned, service: front, operation: pinned}
    - {name: shared, service: front, operation: shared}
messaging: {tls: {version: none}}
"""


def test_instance_subject_is_the_request_subject_and_index() -> None:
    assert instance_subject("svc.worker.work", 2) == "svc.worker.work.2"


def test_specific_instance_load_sharing_and_broadcast() -> None:
    sc = scenario(TEXT)
    t = scripted_run(sc, 5.0)
    handled = {i.index: i.handled for i in t.app.instances["worker"]}
    rows = [r for r in t.app.recorder.rows if r[0] == "request"]
    assert {r[5] for r in rows} == {"ok"}
    pinned = sum(1 for r in rows if r[2] == "pinned")
    shared = sum(1 for r in rows if r[2] == "shared")
    # instance 2 serves every pinned call plus its share of the others
    others = handled[0] + handled[1]
    assert handled[2] - pinned > 0 and others > 0
    assert abs((handled[2] - pinned) - others / 2) < 0.2 * shared  # a third each
    events = Counter(r[2] for r in t.app.recorder.rows if r[0] == "event")
    assert events["ev.done → each-listener"] == 3 * events["ev.done → shared-listener"]
    each = [i.handled for i in t.app.instances["each-listener"]]
    assert len(set(each)) == 1  # every instance heard every event
    assert sum(i.handled for i in t.app.instances["shared-listener"]) == each[0]


def test_pinned_instance_gone_means_no_responders() -> None:
    text = TEXT.replace("instance: 2", "instance: 1")
    sc = scenario(text)

    def stop(t: MessagingTransport) -> None:
        inst = next(i for i in t.app.instances["worker"] if i.index == 1)
        t.crash(inst, "closed")

    t = scripted_run(sc, 3.0, [(2.0, stop)])
    rows = [r for r in t.app.recorder.rows if r[0] == "request" and r[2] == "pinned"]
    late = {r[5] for r in rows if r[3] > 2.01}
    early = {r[5] for r in rows if r[3] < 1.99}
    assert early == {"ok"} and late == {"no_responders"}
