"""HTTP service-mesh architecture: API gateway, sidecar proxies, pools, webhooks."""
