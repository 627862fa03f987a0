"""What happens to each architecture when instances come and go and when things fail.

* :mod:`sim.faults.timeline` — performs a scenario's ``timeline:`` during a run (the engine
  calls :func:`~sim.faults.timeline.schedule`), logs each action with the books;
* :mod:`sim.faults.fleet` — the one place that maps an action onto each transport's verbs;
* :mod:`sim.faults.autoscale` — the HPA target-utilisation autoscaler, same on both sides;
* :mod:`sim.faults.failover` — a DNS failover record for HTTP global failover;
* :mod:`sim.faults.detection` — what each architecture noticed, and the retry/churn counters;
* :mod:`sim.faults.measures` — time to detect and recover, losses, retry amplification,
  churn: :func:`~sim.faults.measures.disturbance_table`.
"""
