"""HTTP service-mesh architecture: API gateway, sidecars or ztunnels, discovery and
orchestration, control plane, pools, webhooks and long polling."""
