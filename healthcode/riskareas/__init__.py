"""Risk areas (中/高风险地区) from the published national lists."""
