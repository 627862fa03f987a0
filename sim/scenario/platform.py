"""The platform both architectures' services run on: an orchestrator (Kubernetes) or plain VMs.

When every service runs in containers, the orchestrator's control plane (kube-apiserver, etcd,
kube-controller-manager, kube-scheduler) is infrastructure of *both* architectures: the source
article's broker "may or may not live in your Container Orchestrator", but the services that
talk to it do. What differs between the architectures is discovery (the HTTP side's catalog,
its watchers and its propagation, :mod:`sim.http.discovery`), not the orchestrator, so its
baseline is one component with the same cost on both sides (:mod:`sim.app.platform`).
``vm`` runs the services on plain virtual machines: no control plane on either side.
"""

from __future__ import annotations

from typing import Literal

from sim.scenario.base import Strict, cited
from sim.scenario.units import Size


class Platform(Strict):
    """Where the services run: the orchestrator counted on both sides, or none."""

    kind: Literal["kubernetes", "vm"] = cited(
        "kubernetes",
        "the HTTP side's discovery defaults to Kubernetes (http.discovery.catalog); a broker "
        "deployment's services run in containers too (the source article: the broker 'may or "
        "may not live in your Container Orchestrator')",
        description="kubernetes: the control plane counts as infrastructure for both "
        "architectures; vm: plain virtual machines, no control plane",
    )
    cores: int = cited(
        2,
        "kubeadm preflight check NumCPU: a control-plane node needs at least 2 CPUs",
        description="cores of the control-plane node",
        ge=1,
    )
    cpu: float = cited(
        0.05,
        "assumption: an idle small control plane keeps ≈5 % of a core busy; kubeadm requests "
        "0.65 cores for it (kube-apiserver 250m, controller-manager 200m, scheduler 100m, "
        "etcd 100m), an upper bound for an idle cluster",
        description="cores the idle control plane keeps busy per node (reconcile loops, leases, "
        "etcd heartbeats), the same on both sides",
        ge=0,
    )
    memory: Size = cited(
        600 * 2**20,
        "assumption: kube-apiserver ≈300 MiB, etcd ≈100 MiB (kubeadm's request 100Mi), "
        "controller-manager ≈120 MiB and scheduler ≈80 MiB when idle; kubeadm's preflight asks "
        "1,700 MB for the whole control-plane node",
        description="resident memory of the control plane (bytes)",
        ge=0,
    )
    replicas: int = cited(
        1,
        "kubeadm's default: one control-plane node (a highly available control plane runs 3, "
        "the same on both sides)",
        description="control-plane nodes",
        ge=1,
        le=7,
    )
