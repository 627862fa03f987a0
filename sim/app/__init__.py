"""The order-service application, written once over the Transport seam."""
