"""Black-box journeys: a real ``vigil serve`` with real peers (Alertmanager, an SMTP sink,
webhook, Slack and Teams receivers), configured through the public API, stepped through
time by its test clock file, and judged by what the receivers get."""
